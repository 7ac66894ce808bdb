package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/names"
)

var (
	alice = names.Instance{Service: "notes", ID: "alice"}
	bob   = names.Instance{Service: "notes", ID: "bob"}
)

// line returns a journal JSON line written by unit's process.
func line(unit, msg string, usec int64, extra string) string {
	return fmt.Sprintf(`{"__CURSOR":"c%d","__REALTIME_TIMESTAMP":"%d","_SYSTEMD_UNIT":%q,"_PID":"42","PRIORITY":"6","MESSAGE":%s%s}`,
		usec, usec, unit, msg, extra)
}

func TestParseEntries(t *testing.T) {
	allowed := map[string]names.Instance{alice.Unit(): alice}
	for _, tc := range []struct {
		name, line string
		ok         bool
		want       Entry
	}{
		{"string message", line(alice.Unit(), `"hello"`, 1700000000123456, ""), true,
			Entry{Message: "hello", Source: SourceApp, PID: 42, Priority: 6}},
		{"binary message", line(alice.Unit(), `[98,105,110,27,91,49,109]`, 1700000000123456, ""), true,
			Entry{Message: "bin\x1b[1m", Source: SourceApp, PID: 42, Priority: 6}},
		{"repeated field keeps the first", line(alice.Unit(), `["one","two"]`, 1700000000123456, ""), true,
			Entry{Message: "one", Source: SourceApp, PID: 42, Priority: 6}},
		{"null message", line(alice.Unit(), `null`, 1700000000123456, `,"PRIORITY":"3"`), true,
			Entry{Message: "", Source: SourceApp, PID: 42, Priority: 3}},
		{"systemd about the unit", `{"__REALTIME_TIMESTAMP":"1700000000123456","_SYSTEMD_UNIT":"init.scope","_PID":"1","UNIT":"tenement@notes-alice.service","PRIORITY":"6","MESSAGE":"Started x."}`, true,
			Entry{Message: "Started x.", Source: SourceSystemd, Priority: 6}},
		{"another unit", line(bob.Unit(), `"hi"`, 1700000000123456, ""), false, Entry{}},
		{"forged tenant fields", line(bob.Unit(), `"hi"`, 1700000000123456, `,"TENEMENT_ID":"alice","TENEMENT_INSTANCE":"notes:alice"`), false, Entry{}},
		{"UNIT from a non-PID-1 writer", `{"_SYSTEMD_UNIT":"init.scope","_PID":"77","UNIT":"tenement@notes-alice.service","MESSAGE":"forged"}`, false, Entry{}},
		{"UNIT from another unit", `{"_SYSTEMD_UNIT":"tenement@notes-bob.service","_PID":"1","UNIT":"tenement@notes-alice.service","MESSAGE":"forged"}`, false, Entry{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFields([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			e, ok := f.entry(allowed)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, e)
			}
			if !ok {
				return
			}
			if e.Instance != alice {
				t.Errorf("instance %s", e.Instance)
			}
			if e.Message != tc.want.Message || e.Source != tc.want.Source || e.PID != tc.want.PID || e.Priority != tc.want.Priority {
				t.Errorf("entry = %+v, want %+v", e, tc.want)
			}
			if want := map[int]string{3: "err", 6: "info"}[e.Priority]; e.Level() != want {
				t.Errorf("level %q, want %q", e.Level(), want)
			}
			if !e.Time.Equal(time.UnixMicro(1700000000123456)) {
				t.Errorf("time %v", e.Time)
			}
		})
	}
	for _, bad := range []string{`not json`, `{"MESSAGE":{"x":1}}`, `{"MESSAGE":[300]}`} {
		if _, err := parseFields([]byte(bad)); err == nil {
			t.Errorf("parseFields(%s) succeeded", bad)
		}
	}
}

// fakeJournalctl writes a script that records its arguments in dir/args
// and prints dir/backlog, or with --follow dir/follow and then waits.
func fakeJournalctl(t *testing.T, backlog, follow []string) (*Reader, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("backlog", backlog)
	write("follow", follow)
	script := `#!/bin/sh
D=` + dir + `
echo "$@" >> $D/args
case "$*" in
  *--since=*--after-cursor=*|*--after-cursor=*--since=*)
    echo "Please specify only one of --since=, --cursor=, and --after-cursor=." >&2; exit 1 ;;
esac
for a in "$@"; do
  case "$a" in
    --follow) cat $D/follow; exec sleep 30 ;;
    --fail) echo "journalctl: something broke" >&2; exit 1 ;;
  esac
done
cat $D/backlog
`
	path := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Reader{Command: path}, filepath.Join(dir, "args")
}

func readArgs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestReadNewestLinesOfOneInstance(t *testing.T) {
	// journalctl --reverse prints the newest first.
	r, argsFile := fakeJournalctl(t, []string{
		line(alice.Unit(), `"four"`, 4e15, ""),
		line(bob.Unit(), `"bob's secret"`, 35e14, `,"TENEMENT_ID":"alice"`),
		line(alice.Unit(), `"three"`, 3e15, ""),
		`garbage`,
		line(alice.Unit(), `"two"`, 2e15, ""),
		line(alice.Unit(), `"one"`, 1e15, ""),
	}, nil)
	got, err := r.Read(context.Background(), Query{Instances: []names.Instance{alice}, Lines: 3})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := messages(got); msgs != "two,three,four" {
		t.Errorf("messages %s, want two,three,four", msgs)
	}
	args := readArgs(t, argsFile)[0]
	for _, want := range []string{"--output=json", "--unit=tenement@notes-alice.service", "--reverse", "--lines=3"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
	if strings.Contains(args, "bob") {
		t.Errorf("args %q name bob", args)
	}

	// With a grep, journalctl reads without --lines and Go filters.
	got, err = r.Read(context.Background(), Query{Instances: []names.Instance{alice}, Lines: 1, Grep: regexp.MustCompile("^t"),
		Since: time.UnixMicro(25e14)})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := messages(got); msgs != "three" {
		t.Errorf("grep: messages %s, want three", msgs)
	}
	args = readArgs(t, argsFile)[1]
	if strings.Contains(args, "--lines") || !strings.Contains(args, "--since=@2500000000") {
		t.Errorf("grep args %q", args)
	}
}

func messages(es []Entry) string {
	var m []string
	for _, e := range es {
		m = append(m, e.Message)
	}
	return strings.Join(m, ",")
}

func TestReadNothingRunsNothing(t *testing.T) {
	r := &Reader{Command: "/nonexistent/journalctl"}
	got, err := r.Read(context.Background(), Query{})
	if err != nil || len(got) != 0 {
		t.Fatalf("Read with no instances = %v, %v", got, err)
	}
	if _, err := r.Read(context.Background(), Query{Instances: []names.Instance{alice}}); err == nil {
		t.Fatal("a missing journalctl was not an error")
	}
}

func TestReadReportsJournalctlFailure(t *testing.T) {
	r, _ := fakeJournalctl(t, nil, nil)
	r.Args = []string{"--fail"}
	_, err := r.Read(context.Background(), Query{Instances: []names.Instance{alice}})
	if err == nil || !strings.Contains(err.Error(), "something broke") {
		t.Fatalf("err = %v", err)
	}
}

func TestFollowSendsBacklogThenNewEntries(t *testing.T) {
	r, argsFile := fakeJournalctl(t,
		[]string{line(alice.Unit(), `"old2"`, 2e15, ""), line(alice.Unit(), `"old1"`, 1e15, "")},
		[]string{line(bob.Unit(), `"bob new"`, 3e15, ""), line(alice.Unit(), `"new"`, 4e15, "")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Entry, 10)
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, Query{Instances: []names.Instance{alice}, Lines: 5, Since: time.UnixMicro(5e14)}, func(e Entry) error {
			got <- e
			return nil
		})
	}()
	var msgs []string
	for len(msgs) < 3 {
		select {
		case e := <-got:
			msgs = append(msgs, e.Message)
		case err := <-done:
			t.Fatalf("Follow returned %v after %v", err, msgs)
		case <-time.After(5 * time.Second):
			t.Fatalf("got only %v", msgs)
		}
	}
	if strings.Join(msgs, ",") != "old1,old2,new" {
		t.Errorf("messages %v", msgs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Follow after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after cancel")
	}
	args := readArgs(t, argsFile)
	if len(args) != 2 || !strings.Contains(args[1], "--follow") || !strings.Contains(args[1], "--after-cursor=c2000000000000000") {
		t.Errorf("args %q", args)
	}

	// A failing send ends the follow with its error.
	boom := errors.New("client gone")
	err := r.Follow(context.Background(), Query{Instances: []names.Instance{alice}}, func(Entry) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Follow with failing send = %v", err)
	}
}

func TestManyInstancesUseOnePatternAndStillFilter(t *testing.T) {
	r, argsFile := fakeJournalctl(t, []string{
		line(bob.Unit(), `"bob"`, 3e15, ""),
		line("tenement@other-x.service", `"other"`, 2e15, ""),
		line(alice.Unit(), `"alice"`, 1e15, ""),
	}, nil)
	q := Query{Instances: []names.Instance{alice}}
	for i := range unitGlobAfter {
		q.Instances = append(q.Instances, names.Instance{Service: "notes", ID: fmt.Sprintf("t%d", i)})
	}
	got, err := r.Read(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := messages(got); msgs != "alice" {
		t.Errorf("messages %s, want alice", msgs)
	}
	args := readArgs(t, argsFile)[0]
	if !strings.Contains(args, "--unit=tenement@*.service") || strings.Count(args, "--unit=") != 1 {
		t.Errorf("args %q", args)
	}
}
