// Command ten is tenement's one binary: the CLI (package cli) and, added to
// it, the daemon and the other server-side commands (package servecmd).
package main

import (
	"os"

	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/internal/servecmd"
)

func main() { os.Exit(cli.Main(os.Args[1:], servecmd.Commands...)) }
