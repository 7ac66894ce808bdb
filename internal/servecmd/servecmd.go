// Package servecmd is the server side of the `ten` command: the daemon
// (`ten serve`), the isolation wrapper that instance units run (`ten
// isolate`), and the commands that work on systemd and the store directly,
// with the daemon stopped (`ten store check|recover`, and `ten teardown`,
// which the package runs on removal). cmd/ten adds them to the client's
// root command (package cli), which knows nothing of the server.
package servecmd

import "github.com/tenement/tenement/internal/cli"

// Commands are the server side's commands, for cli.Main.
var Commands = []cli.Command{serveCmd, isolateCmd, storeCmd, teardownCmd}
