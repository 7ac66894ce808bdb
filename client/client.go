// Package client talks to the tenement daemon's management API, over the
// local unix socket or over HTTP(S) with a bearer token. Errors carry the
// daemon's message and the errdefs kind of the HTTP status, so callers can
// test errors.Is(err, errdefs.ErrNotFound).
//
// Its requests and answers are package apitype's; it imports nothing of
// the server (deps_test.go checks), so a program that only talks to the
// daemon builds without systemd's D-Bus, the store or the metrics.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
)

// Client is an API client.
type Client struct {
	base   string // "http://unix" for the socket, else the server URL
	hc     *http.Client
	token  string
	header http.Header // sent with every request (NewPeer)
	// Server is the address as given, for messages.
	Server string
}

// New returns a client for server: "unix:/path/to/api.sock" or an
// http(s):// URL. token may be empty on the local socket.
func New(server, token string) (*Client, error) {
	c := &Client{token: token, Server: server}
	switch {
	case strings.HasPrefix(server, "unix:"):
		path := strings.TrimPrefix(server, "unix:")
		if path == "" {
			return nil, fmt.Errorf("%w: server %q: empty socket path", errdefs.ErrInvalid, server)
		}
		c.base = "http://unix"
		c.hc = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		}}
	case strings.HasPrefix(server, "http://") || strings.HasPrefix(server, "https://"):
		u, err := url.Parse(server)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: server %q: not a URL", errdefs.ErrInvalid, server)
		}
		c.base = strings.TrimRight(server, "/")
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	default:
		return nil, fmt.Errorf("%w: server %q: want unix:/path or http(s)://host[:port]", errdefs.ErrInvalid, server)
	}
	return c, nil
}

// NewPeer returns a client of another fleet host's listener
// (http://host:port) whose requests go through rt and carry header: how a
// host of a fleet asks another's API, the header proving that it is a
// peer (apitype.HopHeader).
func NewPeer(server string, rt http.RoundTripper, header http.Header) (*Client, error) {
	c, err := New(server, "")
	if err != nil {
		return nil, err
	}
	c.hc = &http.Client{Transport: rt}
	c.header = header
	return c, nil
}

// Do sends a JSON request (in may be nil) and decodes a JSON answer into
// out (may be nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.DoRaw(ctx, method, path, "application/json", body, out)
}

// DoRaw sends a request with a body of the given content type (body may be
// nil) and decodes a JSON answer into out (may be nil).
func (c *Client) DoRaw(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	_, err := c.do(ctx, method, path, contentType, body, out)
	return err
}

// do is DoRaw that also returns the answer's header.
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) (http.Header, error) {
	resp, err := c.send(ctx, method, path, contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Header, nil
	}
	// encoding/json/v2's prototype (the Go team's, to become the
	// standard library's) decodes a list of 10 000 instances in half
	// the time of encoding/json. Its defaults are stricter (exact names,
	// valid UTF-8, no duplicate names), which the daemon's answers meet.
	if err := jsonv2.UnmarshalRead(resp.Body, out); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return resp.Header, nil
}

// Stream sends a request and returns the open response body of a
// successful answer (for log streams).
func (c *Client) Stream(ctx context.Context, method, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, path, "", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, statusError(resp)
	}
	return resp, nil
}

// connError explains a failure to reach the daemon.
func (c *Client) connError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %s did not answer in time", errdefs.ErrTimeout, c.Server)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return fmt.Errorf("%w: cannot reach the tenement daemon at %s (%s); is `ten serve` running?", errdefs.ErrUnavailable, c.Server, msg)
}

// statusError turns an error answer into an error of its kind carrying the
// daemon's message.
func statusError(resp *http.Response) error {
	var body apitype.ErrorResponse
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		msg = body.Error
	}
	if msg == "" {
		msg = resp.Status
	}
	// The daemon's message starts with its kind already ("not found: ...");
	// keep it readable by not repeating the kind.
	if kind := errdefs.FromHTTPStatus(resp.StatusCode); kind != nil {
		return &Error{kind: kind, msg: msg, Status: resp.StatusCode}
	}
	return &Error{msg: msg, Status: resp.StatusCode}
}

// Error is an error answer from the daemon.
type Error struct {
	kind   error
	msg    string
	Status int
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the errdefs kind of the status.
func (e *Error) Unwrap() error { return e.kind }

// DefaultTimeout bounds ordinary API calls.
const DefaultTimeout = 2 * time.Minute
