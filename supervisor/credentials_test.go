package supervisor

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("notes/db_password", "shared")
	write("notes/api-key", "shared")
	write("notes/alice/api-key", "alice's")  // wins over the service's
	write("notes/alice/only.alice", "alice") // alice's alone
	write("notes/bob/bob-key", "bob")
	write("notes/bad name", "x") // invalid: left out
	write("other/db_password", "other service")
	if err := os.Symlink(filepath.Join(dir, "notes/bob/bob-key"), filepath.Join(dir, "notes/alice/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "notes/alice/subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		instance string
		want     []units.Credential
	}{
		{"notes:alice", []units.Credential{
			{Name: "api-key", Path: filepath.Join(dir, "notes/alice/api-key")},
			{Name: "db_password", Path: filepath.Join(dir, "notes/db_password")},
			{Name: "only.alice", Path: filepath.Join(dir, "notes/alice/only.alice")},
		}},
		{"notes:carol", []units.Credential{ // no dir of her own
			{Name: "api-key", Path: filepath.Join(dir, "notes/api-key")},
			{Name: "db_password", Path: filepath.Join(dir, "notes/db_password")},
		}},
		{"blog:alice", nil}, // no dir for the service
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, tt := range tests {
		t.Run(tt.instance, func(t *testing.T) {
			n, err := names.Parse(tt.instance)
			if err != nil {
				t.Fatal(err)
			}
			got, err := credentials(dir, n, log)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("credentials(%s):\n got %v\nwant %v", n, got, tt.want)
			}
		})
	}
	if !strings.Contains(logs.String(), "bad name") {
		t.Errorf("the invalid name was not reported: %s", logs.String())
	}
	if _, err := credentials(filepath.Join(dir, "missing"), names.Instance{Service: "notes", ID: "alice"}, log); err != nil {
		t.Errorf("a missing credentials dir: %v", err)
	}
}
