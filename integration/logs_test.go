package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/internal/testbed"
)

// TestLogsFromJournal: `ten logs` reads the app's lines from journald: the
// newest N, with --grep and --json, and -f shows new lines as they come.
func TestLogsFromJournal(t *testing.T) {
	d := startDaemon(t, "", apiServices)
	d.ten("spawn", "notes:alice")
	d.ten("spawn", "notes:bob")
	alice, bob := d.info("notes:alice").Port, d.info("notes:bob").Port
	tag := fmt.Sprintf("line-%d", time.Now().UnixNano())
	for i := 1; i <= 10; i++ {
		get(t, alice, fmt.Sprintf("/log?msg=%s-%d", tag, i))
	}
	get(t, bob, "/log?msg=bob-"+tag)

	var out string
	testbed.Eventually(t, 10*time.Second, "the last line in ten logs", func() error {
		out = d.ten("logs", "notes:alice", "-n", "5")
		if !strings.Contains(out, tag+"-10") {
			return fmt.Errorf("ten logs -n 5:\n%s", out)
		}
		return nil
	})
	t.Logf("ten logs notes:alice -n 5:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("ten logs -n 5 printed %d lines:\n%s", len(lines), out)
	}
	for i, l := range lines {
		if want := fmt.Sprintf(" notes:alice %s-%d", tag, 6+i); !strings.HasSuffix(l, want) {
			t.Errorf("line %d = %q, want ...%q", i, l, want)
		}
	}

	out = d.ten("logs", "notes:alice", "--grep", tag+"-[34]$", "--since", "10m")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, tag+"-3\n") || !strings.Contains(out, tag+"-4\n") {
		t.Errorf("--grep:\n%s", out)
	}
	if out := d.ten("logs", "notes:alice", "--since", "2000-01-01", "--grep", "^never$"); out != "" {
		t.Errorf("no match printed %q", out)
	}
	out = d.ten("logs", "notes:alice", "-n", "2", "--json")
	var entries []apitype.LogEntry
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e apitype.LogEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("--json line %q: %v", l, err)
		}
		entries = append(entries, e)
	}
	if len(entries) != 2 || entries[1].Message != tag+"-10" || entries[1].Instance != "notes:alice" ||
		entries[1].Source != apitype.LogSourceApp || entries[1].PID == 0 || time.Since(entries[1].Time) > time.Minute {
		t.Errorf("--json entries %+v", entries)
	}
	if out := d.ten("logs", "notes:alice", "-n", "1000"); strings.Contains(out, "bob-"+tag) || !strings.Contains(out, "testapp starting") {
		t.Errorf("alice's logs:\n%s", out)
	}
	// systemd's own lines about the unit come with it.
	if out := d.ten("logs", "notes:alice", "-n", "1000", "--grep", "Started"); !strings.Contains(out, "[systemd]") {
		t.Errorf("no systemd line:\n%s", out)
	}

	// Bad arguments fail before anything is contacted, with one line.
	for _, args := range [][]string{{"logs", "Notes:alice"}, {"logs", "notes:alice", "--grep", "("}, {"logs", "notes:alice", "--since", "soon"}} {
		out, err := d.tenErr(args...)
		if err == nil || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "ten: ") {
			t.Errorf("ten %v: %v %q", args, err, out)
		}
	}

	// -f: the backlog, then a line the app writes while we follow (with
	// --since, which journalctl refuses next to the cursor Follow resumes at).
	cmd := exec.Command(binPath("ten"), "--config", d.cfgPath, "logs", "notes:alice", "-f", "--since", "10m")
	cmd.Env = append(cmd.Environ(), "TENEMENT_SERVER=", "TENEMENT_TOKEN=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	waitLine := func(want string, timeout time.Duration, forbid string) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-got:
				if !ok {
					t.Fatalf("ten logs -f ended before %q", want)
				}
				if forbid != "" && strings.Contains(l, forbid) {
					t.Errorf("ten logs -f notes:alice printed %q", l)
				}
				if strings.HasSuffix(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("ten logs -f: no %q within %v", want, timeout)
			}
		}
	}
	waitLine(tag+"-10", 10*time.Second, "")
	get(t, bob, "/log?msg=bob-follow-"+tag)
	get(t, alice, "/log?msg=follow-"+tag)
	waitLine("follow-"+tag, 10*time.Second, "bob-follow-"+tag)

	// An open stream does not hold up the daemon's shutdown; the follower
	// then ends with an error.
	t0 := time.Now()
	d.stop()
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("daemon shutdown with an open log stream took %v", took)
	}
	for range got {
	}
	if err := cmd.Wait(); err == nil {
		t.Error("ten logs -f exited 0 when the daemon went away")
	}
}
