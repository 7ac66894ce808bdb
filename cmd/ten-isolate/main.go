// Command ten-isolate is the wrapper that instance units of the namespace
// and sandbox isolation levels run in front of the app, and the port guard
// that every instance unit runs before it (package isolation). It is
// `ten isolate` as a binary of its own: on every wake it starts up to
// three times (the guard, then outside and inside the new PID namespace),
// and this small binary starts in less than half the time of ten, whose
// package initialisation (metrics, config, CLI) it does not need.
package main

import (
	"os"

	"github.com/tenement/tenement/isolation"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == isolation.Command {
		args = args[1:] // the same command line as `ten isolate ...`
	}
	os.Exit(isolation.Main(args, os.Stderr))
}
