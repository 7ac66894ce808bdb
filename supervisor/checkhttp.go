package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// The health check is a bare HTTP/1.1 client rather than net/http's: at
// 1 000 awake instances checked every 10s it runs 100 times a second, and
// net/http's per-request machinery (a transport connection with two
// goroutines and two 4 KiB buffers, full header parsing) plus a new TCP
// connection each time cost ~180µs of CPU per check here, most of the
// daemon's idle CPU. A check writes a fixed request and reads the status
// line, the headers and a small body; a healthProber keeps the connection
// for the instance's next check, so that a check is one write and one read
// (~3 times less CPU than a new connection, which is most of what is left:
// the kernel's handshake). Checks never go through the proxy, so they
// never count as activity.

const (
	// maxHealthHeader bounds the header block of a health answer; a
	// larger one is read no further and the connection not kept.
	maxHealthHeader = 8 << 10
	// maxHealthBody is the largest body read to keep the connection; a
	// larger (or chunked, or unsized) body ends it after the headers.
	maxHealthBody = 64 << 10
)

// healthProber checks one instance's health path, keeping the connection
// between checks when the app allows it. It belongs to the instance's
// health loop (one goroutine) and is not safe for concurrent use.
type healthProber struct {
	conn net.Conn
	br   *bufio.Reader
}

// check GETs path on address: a 2xx status is healthy, anything else
// (another status, no answer, not HTTP) is not. A kept connection that the
// app closed meanwhile (its keep-alive timeout) is replaced by a new one
// at once, without counting as a failure.
func (p *healthProber) check(ctx context.Context, address, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.conn != nil {
		fresh, err := p.roundTrip(ctx, address, path, true)
		if !fresh {
			return err
		}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	p.conn = conn
	if p.br == nil {
		p.br = bufio.NewReaderSize(conn, 512)
	} else {
		p.br.Reset(conn)
	}
	_, err = p.roundTrip(ctx, address, path, true)
	return err
}

// close ends the kept connection.
func (p *healthProber) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// roundTrip sends one request on p.conn and reads its answer, keeping the
// connection when the answer allows it (else closing it). closedEarly
// reports that the connection failed before any byte of an answer: on a
// kept connection that is the app having closed it, and the caller dials
// again.
func (p *healthProber) roundTrip(ctx context.Context, address, path string, keep bool) (closedEarly bool, err error) {
	c := p.conn
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	// A cancelled ctx (the instance is stopping) ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	kept := false
	defer func() {
		// When ctx ended meanwhile, its func may set a past deadline on
		// the connection at any time: it is not kept.
		if !stop() || !kept {
			p.close()
		}
	}()

	conn := "keep-alive"
	if !keep {
		conn = "close"
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + address +
		"\r\nUser-Agent: tenement-health\r\nConnection: " + conn + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return ctx.Err() == nil, checkErr(ctx, err)
	}
	line, err := p.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return len(line) == 0 && ctx.Err() == nil, checkErr(ctx, err)
	}
	code, ok := statusCode(line)
	if !ok {
		return false, fmt.Errorf("health %s: not an HTTP answer: %.40q", path, line)
	}
	var result error
	if code < 200 || code > 299 {
		// "503 Service Unavailable", as the app said it (and as net/http
		// names it), in printable ASCII only: the tenant's app wrote it,
		// and it reaches terminals through ten ps.
		result = fmt.Errorf("health %s returned %s", path, printable(bytes.TrimSpace(line[9:])))
	}
	kept = keep && bytes.HasPrefix(line, []byte("HTTP/1.1")) && p.skipAnswer(code)
	return false, result
}

// skipAnswer reads the rest of an answer (headers, then the body of a
// known small size) and reports whether the connection can carry the next
// request.
func (p *healthProber) skipAnswer(code int) bool {
	length, read := int64(-1), 0
	for {
		line, err := p.br.ReadSlice('\n')
		read += len(line)
		if err != nil || read > maxHealthHeader {
			return false
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return false
			}
			length = n
		case asciiEqualFold(name, "transfer-encoding"):
			return false // chunked: not worth parsing for a health check
		case asciiEqualFold(name, "connection") && asciiEqualFold(value, "close"):
			return false
		}
	}
	switch {
	case code == 204 || code == 304 || code < 200:
		return length <= 0
	case length < 0 || length > maxHealthBody:
		return false
	}
	_, err := p.br.Discard(int(length))
	return err == nil
}

func asciiEqualFold(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}

// checkHTTP checks path on address once, over a connection of its own
// (readiness checks while an instance starts).
func checkHTTP(ctx context.Context, address, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	p := &healthProber{conn: conn, br: bufio.NewReaderSize(conn, 512)}
	_, err = p.roundTrip(ctx, address, path, false)
	return err
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
