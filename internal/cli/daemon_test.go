package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// fakeDaemon serves h on a unix socket, as the daemon's local API, and
// returns the --server address of it.
func fakeDaemon(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix:" + sock
}

// tenIn runs ten with stdin and returns its exit status, stdout and stderr.
func tenIn(stdin io.Reader, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), &Env{Stdin: stdin, Stdout: &stdout, Stderr: &stderr}, args)
	return code, stdout.String(), stderr.String()
}
