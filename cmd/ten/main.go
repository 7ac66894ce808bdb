// Command ten is tenement's one binary: the daemon (ten serve) and the CLI.
package main

import (
	"os"

	"github.com/tenement/tenement/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
