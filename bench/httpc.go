package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client on one TCP connection: it
// sends one prepared GET and reads the response (Content-Length or
// chunked). It allocates nothing per request, so the load generator takes
// as little CPU as it can from the proxies it measures on the same cores.
type conn struct {
	addr string
	req  []byte
	c    net.Conn
	br   *bufio.Reader
	body []byte // the last response body, when kept
	keep bool
}

func newConn(addr, host, path string) *conn {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: tenement-bench\r\nAccept: */*\r\n\r\n"
	return &conn{addr: addr, req: []byte(req)}
}

// dialTCP dials the targets: from this process's network namespace, or
// (FLEET=1) from the fleet's hub.
var dialTCP = func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func (c *conn) dial() error {
	nc, err := dialTCP(c.addr)
	if err != nil {
		return err
	}
	c.c = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// get sends the request and reads the whole response. It returns the
// status code; on a broken keep-alive connection it redials once.
func (c *conn) get() (int, error) {
	reused := c.c != nil
	if !reused {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	code, err := c.roundTrip()
	if err != nil && reused {
		c.close()
		if err := c.dial(); err != nil {
			return 0, err
		}
		code, err = c.roundTrip()
	}
	if err != nil {
		c.close()
	}
	return code, err
}

func (c *conn) roundTrip() (int, error) {
	if _, err := c.c.Write(c.req); err != nil {
		return 0, err
	}
	return c.readResponse()
}

var errMalformed = errors.New("malformed response")

// readResponse reads a status line, headers and the body.
func (c *conn) readResponse() (int, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, fmt.Errorf("%w: Content-Length %q", errMalformed, v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		err = c.readN(length)
	default:
		return 0, fmt.Errorf("%w: no length", errMalformed)
	}
	if err != nil {
		return 0, err
	}
	if closing {
		c.close()
	}
	return code, nil
}

func (c *conn) readN(n int) error {
	if c.keep {
		start := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		_, err := io.ReadFull(c.br, c.body[start:])
		return err
	}
	_, err := c.br.Discard(n)
	return err
}

func (c *conn) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(line), 16, 32)
		if err != nil {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			// Trailers end with an empty line.
			for {
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if err := c.readN(int(n)); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil {
			return err
		}
	}
}
