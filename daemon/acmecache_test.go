package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenement/tenement/config"
)

func TestMigrateACMECache(t *testing.T) {
	const sub = "acme-v02.api.letsencrypt.org-directory"
	for _, tc := range []struct {
		name     string
		files    []string // under data_dir; a name ending in / is a dir
		cacheDir string   // "" for the default
		service  string   // a configured service
		moved    bool
	}{
		{"per-directory cache", []string{"acme/" + sub + "/" + acmeAccountKey, "acme/" + sub + "/example.com"}, "", "", true},
		{"account key at the top", []string{"acme/" + acmeAccountKey}, "", "", true},
		{"new cache exists", []string{"acme/" + sub + "/" + acmeAccountKey, ".acme/"}, "", "", false},
		{"a service named acme", []string{"acme/" + sub + "/" + acmeAccountKey}, "", "acme", false},
		{"not a cache: a service's data", []string{"acme/alice/data.db"}, "", "", false},
		{"cache_dir set elsewhere", []string{"acme/" + sub + "/" + acmeAccountKey}, "/srv/acme", "", false},
		{"nothing to move", nil, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(dataDir, f)
				if f[len(f)-1] == '/' {
					if err := os.MkdirAll(p, 0o700); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := &config.Config{Settings: config.Settings{DataDir: dataDir}, Services: map[string]*config.Service{}}
			cfg.Settings.TLS.CacheDir = filepath.Join(dataDir, ".acme")
			if tc.cacheDir != "" {
				cfg.Settings.TLS.CacheDir = tc.cacheDir
			}
			if tc.service != "" {
				cfg.Services[tc.service] = &config.Service{}
			}
			if err := migrateACMECache(cfg, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			_, oldErr := os.Stat(filepath.Join(dataDir, "acme"))
			moved := oldErr != nil && len(tc.files) > 0
			if moved != tc.moved {
				t.Errorf("moved = %v, want %v", moved, tc.moved)
			}
			if tc.moved && len(tc.files) > 0 {
				want := filepath.Join(dataDir, ".acme", tc.files[0][len("acme/"):])
				if _, err := os.Stat(want); err != nil {
					t.Errorf("after the move: %v", err)
				}
			}
		})
	}
}
