package journal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/tenement/tenement/names"
)

// Query selects log entries.
type Query struct {
	// Instances whose logs are read. An empty list reads nothing (it
	// never means "everything").
	Instances []names.Instance
	// Lines is how many of the newest matching entries Read returns
	// (<= 0: DefaultLines), and how many Follow sends before it follows
	// (<= 0: none).
	Lines int
	// Since, if set, skips older entries.
	Since time.Time
	// Grep, if set, keeps only entries whose message matches. It is Go's
	// regexp (RE2: linear time, whatever a tenant sends).
	Grep *regexp.Regexp
}

// DefaultLines is Read's default number of entries.
const DefaultLines = 100

// maxLine bounds one entry's JSON; longer ones are skipped.
const maxLine = 4 << 20

// MaxReadBytes bounds the messages one Read returns: past it, Read stops
// with the newest entries it has (a tenant's binary log lines must not
// make the daemon hold gigabytes).
const MaxReadBytes = 32 << 20

// unitGlobAfter is how many instances a query names one by one; more are
// matched with one pattern and filtered here.
const unitGlobAfter = 64

// Reader runs journalctl.
type Reader struct {
	// Command is journalctl's path. Default "journalctl" from PATH.
	Command string
	// Args are added to every invocation (e.g. "--directory=DIR").
	Args []string
}

func (r *Reader) command() string {
	if r.Command == "" {
		return "journalctl"
	}
	return r.Command
}

// allowed maps the units of q's instances to the instances.
func (q Query) allowed() map[string]names.Instance {
	m := make(map[string]names.Instance, len(q.Instances))
	for _, n := range q.Instances {
		m[n.Unit()] = n
	}
	return m
}

func (q Query) keep(e Entry) bool {
	if !q.Since.IsZero() && e.Time.Before(q.Since) {
		return false
	}
	return q.Grep == nil || q.Grep.MatchString(e.Message)
}

// args returns journalctl's arguments for q, before mode flags. With a
// cursor, journalctl refuses --since; keep() applies it anyway.
func (r *Reader) args(q Query, cursor string) []string {
	args := append([]string{"--output=json", "--all", "--no-pager", "--quiet"}, r.Args...)
	if cursor != "" {
		args = append(args, "--after-cursor="+cursor)
	} else if !q.Since.IsZero() {
		args = append(args, "--since=@"+strconv.FormatInt(q.Since.Unix(), 10))
	}
	if len(q.Instances) > unitGlobAfter {
		return append(args, "--unit="+names.UnitPattern+".service")
	}
	for _, n := range q.Instances {
		args = append(args, "--unit="+n.Unit())
	}
	return args
}

// Read returns the newest q.Lines matching entries, oldest first.
func (r *Reader) Read(ctx context.Context, q Query) ([]Entry, error) {
	if len(q.Instances) == 0 {
		return nil, nil
	}
	lines := q.Lines
	if lines <= 0 {
		lines = DefaultLines
	}
	// Newest first, stopping at the lines-th match: a grep does not read
	// the whole journal unless it has to.
	args := append(r.args(q, ""), "--reverse")
	if q.Grep == nil {
		args = append(args, "--lines="+strconv.Itoa(lines))
	}
	var out []Entry
	size := 0
	err := r.run(ctx, args, q, func(e Entry) bool {
		out = append(out, e)
		size += len(e.Message)
		return len(out) < lines && size < MaxReadBytes
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// Follow sends the newest q.Lines matching entries, then every new one as
// journald receives it, until ctx is done or send fails. It returns nil
// when ctx ends it.
func (r *Reader) Follow(ctx context.Context, q Query, send func(Entry) error) error {
	if len(q.Instances) == 0 {
		<-ctx.Done()
		return nil
	}
	var cursor string
	if q.Lines > 0 {
		backlog, err := r.Read(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range backlog {
			if err := send(e); err != nil {
				return err
			}
			cursor = e.cursor
		}
	}
	args := append(r.args(q, cursor), "--follow")
	if cursor == "" {
		args = append(args, "--lines=0")
	}
	var serr error
	err := r.run(ctx, args, q, func(e Entry) bool {
		serr = send(e)
		return serr == nil
	})
	if serr != nil {
		return serr
	}
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("journalctl --follow ended")
	}
	return err
}

// run runs journalctl and calls each for every entry that belongs to q's
// instances and matches it, until each returns false.
func (r *Reader) run(ctx context.Context, args []string, q Query, each func(Entry) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.command(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	allowed := q.allowed()
	br := bufio.NewReaderSize(stdout, 64<<10)
	stopped := false
	for !stopped {
		line, err := readLine(br)
		if err != nil {
			break
		}
		f, perr := parseFields(line)
		if perr != nil {
			continue
		}
		e, ok := f.entry(allowed)
		if !ok || !q.keep(e) {
			continue
		}
		stopped = !each(e)
	}
	if stopped {
		cancel()
	}
	werr := cmd.Wait()
	if stopped || ctx.Err() != nil {
		return nil
	}
	if werr != nil {
		msg := bytes.TrimSpace(stderr.Bytes())
		return fmt.Errorf("journal: journalctl: %w: %s", werr, msg)
	}
	return nil
}

// readLine returns the next line without its newline; lines longer than
// maxLine are skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, nil
			}
			return nil, err
		}
		buf := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = br.ReadSlice('\n')
			if len(buf) <= maxLine {
				buf = append(buf, line...)
			}
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(buf) > 0) {
			return nil, err
		}
		if len(buf) <= maxLine {
			return bytes.TrimSuffix(buf, []byte("\n")), nil
		}
		// Too long: skip it and read the next line.
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
