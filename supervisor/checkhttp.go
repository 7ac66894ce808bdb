package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// checkHTTP asks an instance for its health path over a new connection and
// reads the status line only: a 2xx status is healthy, anything else
// (another status, no answer, not HTTP) is not.
//
// It is a bare HTTP/1.1 request rather than net/http's client: at 1 000
// awake instances checked every 10s it runs 100 times a second, and the
// client's per-request machinery (a transport connection with two
// goroutines and two 4 KiB buffers, full header parsing) cost ~330µs of
// CPU each, most of the daemon's idle CPU. A new connection for each check
// (no keep-alive) holds nothing open between checks, and the check never
// counts as a request of the proxy's.
func checkHTTP(ctx context.Context, address, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// A cancelled ctx (the instance is stopping) ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := "GET " + path + " HTTP/1.1\r\nHost: " + address +
		"\r\nUser-Agent: tenement-health\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return checkErr(ctx, err)
	}
	line, err := bufio.NewReaderSize(conn, 128).ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return checkErr(ctx, err)
	}
	code, ok := statusCode(line)
	switch {
	case !ok:
		return fmt.Errorf("health %s: not an HTTP answer: %.40q", path, line)
	case code < 200 || code > 299:
		// "503 Service Unavailable", as the app said it (and as net/http
		// names it), in printable ASCII only: the tenant's app wrote it,
		// and it reaches terminals through ten ps.
		return fmt.Errorf("health %s returned %s", path, printable(bytes.TrimSpace(line[9:])))
	}
	return nil
}

// statusCode reads the status of an HTTP/1.x status line.
func statusCode(line []byte) (int, bool) {
	// "HTTP/1.1 200 OK\r\n": the version, a space, three digits, then a
	// space or the line's end.
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return 0, false
	}
	if len(line) > 12 && line[12] != ' ' && line[12] != '\r' && line[12] != '\n' {
		return 0, false
	}
	code, err := strconv.Atoi(string(line[9:12]))
	return code, err == nil && code >= 100
}

// checkErr says why a check's connection failed, naming the timeout or the
// cancellation rather than the deadline it was turned into.
func checkErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("health check: %w", context.Cause(ctx))
	}
	return err
}

// printable replaces the bytes of b that are not printable ASCII with '?'.
func printable(b []byte) string {
	out := []byte(string(b))
	for i, c := range out {
		if c < ' ' || c >= 0x7f {
			out[i] = '?'
		}
	}
	return string(out)
}
