package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tenement/tenement/config"
)

// acmeAccountKey is the file autocert keeps the ACME account key in, at
// the top of each cache directory.
const acmeAccountKey = "acme_account+key"

// migrateACMECache moves the ACME cache from {data_dir}/acme, the default
// before 0.2, to {data_dir}/.acme, the default since (a service named acme
// keeps its data in {data_dir}/acme). It does so only when cache_dir is the
// new default, {data_dir}/.acme does not exist, {data_dir}/acme looks like
// autocert's cache (an account key at its top or in a per-directory
// subdirectory) and no service is named acme; else it changes nothing.
// Losing the cache would re-issue every certificate, against the CA's rate
// limits.
func migrateACMECache(cfg *config.Config, log *slog.Logger) error {
	dataDir := cfg.Settings.DataDir
	oldDir, newDir := filepath.Join(dataDir, "acme"), filepath.Join(dataDir, ".acme")
	if filepath.Clean(cfg.Settings.TLS.CacheDir) != newDir {
		return nil
	}
	if _, err := os.Lstat(newDir); !errors.Is(err, fs.ErrNotExist) {
		return nil // there already, or unreadable: newCerts will say
	}
	if !looksLikeACMECache(oldDir) {
		return nil
	}
	if _, ok := cfg.Services["acme"]; ok {
		log.Warn("the old ACME cache is also service acme's data dir; the daemon starts a new cache: move the ACME files (acme_account+key and the certificates) into cache_dir by hand",
			"old", oldDir, "cache_dir", newDir)
		return nil
	}
	if err := os.Rename(oldDir, newDir); err != nil {
		return fmt.Errorf("tls: moving the ACME cache to its new default place: %w", err)
	}
	log.Info("moved the ACME cache to its new default place (a service may now be named acme)", "from", oldDir, "to", newDir)
	return nil
}

// looksLikeACMECache reports whether dir holds an ACME account key at its
// top or in one of its subdirectories.
func looksLikeACMECache(dir string) bool {
	if isRegular(filepath.Join(dir, acmeAccountKey)) {
		return true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && isRegular(filepath.Join(dir, e.Name(), acmeAccountKey)) {
			return true
		}
	}
	return false
}

func isRegular(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}
