package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// LogQuery selects log entries. A zero Instance means every instance the
// caller may read.
type LogQuery struct {
	Instance names.Instance
	Lines    int    // newest entries (0: the daemon's default; for a stream, none)
	Grep     string // a regexp on the message
	Since    string // see apitype.ParseSince
}

func (q LogQuery) path(base string) string {
	v := url.Values{}
	if !q.Instance.IsZero() {
		v.Set("instance", q.Instance.String())
	}
	if q.Lines > 0 {
		v.Set("lines", strconv.Itoa(q.Lines))
	}
	if q.Grep != "" {
		v.Set("grep", q.Grep)
	}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// Logs returns the newest matching log entries, oldest first.
func (c *Client) Logs(ctx context.Context, q LogQuery) ([]apitype.LogEntry, error) {
	var out []apitype.LogEntry
	err := c.Do(ctx, http.MethodGet, q.path("/api/logs"), nil, &out)
	return out, err
}

// FollowLogs calls f with the newest q.Lines entries, then with each new
// one, until ctx ends (nil), the stream breaks, or f fails.
func (c *Client) FollowLogs(ctx context.Context, q LogQuery, f func(apitype.LogEntry) error) error {
	body, err := c.Stream(ctx, http.MethodGet, q.path("/api/logs/stream"))
	if err != nil {
		return err
	}
	defer body.Close()
	err = readEvents(body, func(event string, data []byte) error {
		switch event {
		case "", "message":
			var e apitype.LogEntry
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("log stream: %w", err)
			}
			return f(e)
		case "error":
			var body apitype.ErrorResponse
			_ = json.Unmarshal(data, &body)
			return fmt.Errorf("log stream: %s", body.Error)
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("log stream from %s ended", c.Server)
	}
	return err
}

// readEvents parses a server-sent event stream, calling f per event.
func readEvents(r io.Reader, f func(event string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data != nil {
				if err := f(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, d...)
		case bytes.HasPrefix(line, []byte("event:")):
			event = string(bytes.TrimSpace(line[len("event:"):]))
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
