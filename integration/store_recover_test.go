package integration

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/store"
)

// TestCorruptStoreRecover: the daemon dies (kill -9) and its store is
// damaged. The next daemon refuses to start, in one line naming the file
// and the recovery command, while the tenants keep answering; `ten store
// recover` rebuilds the store from the units; the daemon then re-adopts
// both tenants without restarting them, and the proxy reaches them.
func TestCorruptStoreRecover(t *testing.T) {
	d, before, pids := killedWithTenants(t)

	// Overwrite the first pages: both of bbolt's meta pages and more.
	path := filepath.Join(d.dataDir, store.FileName)
	junk := make([]byte, 16<<10)
	rand.Read(junk)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(junk, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// The daemon refuses, in one line.
	out, code := d.serveUntilExit(20 * time.Second)
	var errLines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "ten: ") {
			errLines = append(errLines, l)
		}
	}
	want := fmt.Sprintf("ten: store %s is corrupt (", path)
	wantEnd := fmt.Sprintf("); tenants keep running; run: ten --config %s store recover", d.cfgPath)
	if code == 0 || len(errLines) != 1 || !strings.HasPrefix(errLines[0], want) || !strings.HasSuffix(errLines[0], wantEnd) {
		t.Fatalf("daemon on a corrupt store: exit %d, output:\n%s", code, out)
	}
	t.Logf("the daemon said: %s", errLines[0])

	// The tenants did not notice.
	for _, n := range []string{"alice", "bob"} {
		if body := get(t, before["notes:"+n].Port, "/health"); body == "" {
			t.Errorf("%s answered nothing", n)
		}
		if got := mainPID(t, "tenement@notes-"+n+".service"); got != pids[n] {
			t.Errorf("%s MainPID %d -> %d while the daemon was down", n, pids[n], got)
		}
	}

	rec := d.ten("store", "recover")
	t.Logf("ten store recover:\n%s", rec)
	for _, s := range []string{"Recovered 2 instances", "notes:alice", "notes:bob", "Moved the corrupt store aside: " + path + ".corrupt-", "Lost: API tokens"} {
		if !strings.Contains(rec, s) {
			t.Errorf("ten store recover does not say %q", s)
		}
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt copies: %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); !bytes.HasPrefix(kept, junk) {
		t.Errorf("%s is not the corrupt file", aside[0])
	}

	d.start()
	after := d.ps()
	for _, n := range []string{"alice", "bob"} {
		name := "notes:" + n
		b, a := before[name], after[name]
		if a.State != apitype.StateRunning || a.Port != b.Port || a.MainPID != b.MainPID || a.Weight != 0 {
			t.Errorf("%s before %+v\nafter recovery %+v", name, b, a)
		}
		if got := mainPID(t, "tenement@notes-"+n+".service"); got != pids[n] {
			t.Errorf("%s was restarted: MainPID %d -> %d", n, pids[n], got)
		}
		if code, body, err := d.request(d.instanceHost("notes", n), "/"); err != nil || code != 200 {
			t.Errorf("%s through the proxy: %d %v %s", name, code, err, body)
		}
	}
	if audit := d.ten("audit"); !strings.Contains(audit, "store-recover") {
		t.Errorf("the new audit log does not record the recovery:\n%s", audit)
	}
}

// serveUntilExit runs `ten serve` on this daemon's config and waits for it
// to exit; it returns what it printed and its exit status.
func (d *daemon) serveUntilExit(timeout time.Duration) (string, int) {
	d.t.Helper()
	cmd := exec.Command(binPath("ten"), "serve", "--config", d.cfgPath)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		d.t.Fatalf("ten serve on a corrupt store did not exit within %v:\n%s", timeout, out.String())
	}
	return out.String(), cmd.ProcessState.ExitCode()
}
