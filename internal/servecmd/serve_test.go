package servecmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/store"
)

// corruptStore creates the store of cfg's data dir and overwrites its
// first pages with zeros.
func corruptStore(t *testing.T, dataDir string) {
	t.Helper()
	st, err := store.Open(dataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	f, err := os.OpenFile(filepath.Join(dataDir, store.FileName), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 16384), 0); err != nil {
		t.Fatal(err)
	}
}

// TestServeCorruptStore: on a corrupt store, ten serve stops before it
// touches systemd with one line naming ten store recover and its own exit
// status, which tenement.service's RestartPreventExitStatus= names (not 1,
// on which systemd restarts it every RestartSec, forever). ten store check
// says the same with the same status.
func TestServeCorruptStore(t *testing.T) {
	cfg := storeTestConfig(t)
	corruptStore(t, cfg.Settings.DataDir)
	for _, args := range [][]string{{"serve"}, {"store", "check"}} {
		code, _, errOut := ten(append([]string{"--config", cfg.Path}, args...)...)
		if code != ExitStoreCorrupt || ExitStoreCorrupt != 78 {
			t.Errorf("ten %s: exit status %d, want %d", strings.Join(args, " "), code, ExitStoreCorrupt)
		}
		want := "ten: store " + filepath.Join(cfg.Settings.DataDir, store.FileName) + " is corrupt"
		if !strings.HasPrefix(errOut, want) || !strings.HasSuffix(errOut, "; tenants keep running; run: ten --config "+cfg.Path+" store recover\n") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ten %s: %q", strings.Join(args, " "), errOut)
		}
	}
	// Any other error is status 1.
	if code, _, _ := ten("--config", filepath.Join(t.TempDir(), "missing.toml"), "serve"); code != 1 {
		t.Errorf("ten serve without a config: exit status %d, want 1", code)
	}
}
