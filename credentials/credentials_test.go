package credentials

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// TestSetListRemove: files 0600 and directories 0700, an instance's
// credential wins over its service's, listing never shows a value.
func TestSetListRemove(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "credentials")}
	svc, alice := Target{Service: "notes"}, Target{Service: "notes", ID: "alice"}
	must(t, d.Set(svc, "DB_PASSWORD", []byte("service-secret")))
	must(t, d.Set(svc, "API_KEY", []byte("k")))
	must(t, d.Set(alice, "DB_PASSWORD", []byte("alice-secret!")))

	for _, p := range []string{"", "notes", "notes/alice"} {
		assertMode(t, filepath.Join(d.Path, p), os.ModeDir|0o700)
	}
	assertMode(t, filepath.Join(d.Path, "notes/alice/DB_PASSWORD"), 0o600)

	got, err := d.List(alice)
	must(t, err)
	if len(got) != 2 || got[0].Name != "API_KEY" || got[0].Scope != apitype.ScopeService ||
		got[1].Name != "DB_PASSWORD" || got[1].Scope != apitype.ScopeInstance || got[1].Size != 13 || got[1].Modified.IsZero() {
		t.Errorf("List(notes:alice) = %+v", got)
	}
	if got, _ := d.List(svc); len(got) != 2 || got[1].Size != 14 {
		t.Errorf("List(notes) = %+v (the instance dir must not be listed)", got)
	}
	files, err := d.Files(names.Instance{Service: "notes", ID: "alice"})
	must(t, err)
	if len(files) != 2 || files[1].Path != filepath.Join(d.Path, "notes/alice/DB_PASSWORD") || files[0].Path != filepath.Join(d.Path, "notes/API_KEY") {
		t.Errorf("Files = %+v", files)
	}
	if b, _ := os.ReadFile(files[1].Path); string(b) != "alice-secret!" {
		t.Errorf("value %q", b)
	}

	must(t, d.Remove(alice, "DB_PASSWORD"))
	if got, _ := d.List(alice); len(got) != 2 || got[1].Scope != apitype.ScopeService {
		t.Errorf("after removing the instance's: %+v", got)
	}
	if err := d.Remove(alice, "DB_PASSWORD"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
	if err := d.Set(svc, "BIG", make([]byte, apitype.MaxCredentialSize+1)); !errors.Is(err, apitype.ErrCredentialTooLarge) {
		t.Errorf("over 1 MiB: %v", err)
	}
	must(t, d.Set(svc, "EMPTY", nil))
	if got, _ := (Dir{Path: filepath.Join(t.TempDir(), "none")}).List(svc); got == nil || len(got) != 0 {
		t.Errorf("List without a dir: %#v", got)
	}
}

func TestForget(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	alice := names.Instance{Service: "notes", ID: "alice"}
	must(t, d.Set(Target{Service: "notes"}, "SHARED", []byte("1")))
	must(t, d.Set(forInstance(alice), "OWN", []byte("2")))
	must(t, d.Forget(alice))
	if got, _ := d.List(forInstance(alice)); len(got) != 1 || got[0].Name != "SHARED" {
		t.Errorf("after Forget: %+v", got)
	}
	must(t, d.Forget(alice))                                    // nothing left
	must(t, d.Forget(names.Instance{Service: "blog", ID: "x"})) // never had any
	must(t, (Dir{Path: filepath.Join(t.TempDir(), "none")}).Forget(alice))
}

// TestNamesThatCollide: a service credential cannot take the name of an
// instance's directory, nor an instance the name of a service credential.
func TestNamesThatCollide(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	must(t, d.Set(Target{Service: "notes", ID: "alice"}, "X", []byte("1")))
	if err := d.Set(Target{Service: "notes"}, "alice", []byte("2")); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("service credential named like an instance: %v", err)
	}
	must(t, d.Set(Target{Service: "notes"}, "bob", []byte("3")))
	if err := d.Set(Target{Service: "notes", ID: "bob"}, "X", []byte("4")); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("instance named like a service credential: %v", err)
	}
}

// TestSymlinkCannotLeadOut: a symlink inside the credentials dir (put there
// by a mistake or an attacker) never makes a write land outside it.
func TestSymlinkCannotLeadOut(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	must(t, os.Mkdir(outside, 0o755))
	d := Dir{Path: filepath.Join(base, "credentials")}
	must(t, os.MkdirAll(d.Path, 0o700))
	must(t, os.Symlink(outside, filepath.Join(d.Path, "notes")))
	must(t, os.MkdirAll(filepath.Join(d.Path, "blog"), 0o700))
	must(t, os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(d.Path, "blog", "KEY")))
	for _, tc := range []struct {
		target Target
		name   string
	}{{Target{Service: "notes"}, "KEY"}, {Target{Service: "notes", ID: "alice"}, "KEY"}, {Target{Service: "blog"}, "KEY"}} {
		if err := d.Set(tc.target, tc.name, []byte("secret")); err == nil {
			t.Errorf("Set(%s, %s) through a symlink succeeded", tc.target, tc.name)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("wrote outside the credentials dir: %v", entries)
	}
}

// TestSetIsAtomic: a reader (a unit starting) sees the old value or the
// new one, never a mix or a truncated file.
func TestSetIsAtomic(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	svc := Target{Service: "notes"}
	a, b := bytes.Repeat([]byte("a"), apitype.MaxCredentialSize), bytes.Repeat([]byte("b"), apitype.MaxCredentialSize)
	must(t, d.Set(svc, "K", a))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := a
			if i%2 == 1 {
				v = b
			}
			if err := d.Set(svc, "K", v); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		got, err := os.ReadFile(filepath.Join(d.Path, "notes", "K"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != apitype.MaxCredentialSize || (!bytes.Equal(got, a) && !bytes.Equal(got, b)) {
			t.Fatalf("a reader saw %d bytes, not one whole value", len(got))
		}
	}
	close(stop)
	wg.Wait()
	if entries, _ := os.ReadDir(filepath.Join(d.Path, "notes")); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertMode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != want {
		t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && (sys.Uid != 0 || sys.Gid != 0) {
		t.Errorf("%s: owned by %d:%d, want root", p, sys.Uid, sys.Gid)
	}
}

func TestOwn(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	n := names.Instance{Service: "notes", ID: "alice"}
	got, err := d.Own(n)
	if err != nil || len(got) != 0 {
		t.Fatalf("no credentials: %v %v", got, err)
	}
	must(t, d.Set(Target{Service: "notes"}, "SHARED", []byte("s")))
	must(t, d.Set(forInstance(n), "DB_PASSWORD", []byte("p1")))
	must(t, d.Set(forInstance(names.Instance{Service: "notes", ID: "bob"}), "DB_PASSWORD", []byte("p2")))
	got, err = d.Own(n)
	if err != nil || len(got) != 1 || string(got["DB_PASSWORD"]) != "p1" {
		t.Errorf("Own = %q, %v; want alice's DB_PASSWORD only", got, err)
	}
}
