package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/internal/testbed"
)

// TestMain builds the packages on the host (setup) and runs the tests
// inside a fresh systemd manager.
func TestMain(m *testing.M) { os.Exit(testbed.Main(m, buildPackages)) }

// The two versions the tests build: the first install and the upgrade.
const (
	version1 = "1.0.0~test1"
	version2 = "1.0.0~test2"
)

// buildPackages runs `make package` for both versions into the share dir.
// A failure (nfpm missing, say) is written to packages.err for the tests to
// report, so that it is not mistaken for a missing systemd manager.
func buildPackages(share string) error {
	root, err := os.Getwd()
	root = testbed.ModuleRoot(root)
	if err != nil {
		return err
	}
	for _, v := range []string{version1, version2} {
		cmd := exec.Command("make", "--no-print-directory", "package", "VERSION="+v, "DIST="+filepath.Join(share, "dist", v))
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			msg := fmt.Sprintf("make package VERSION=%s: %v\n%s", v, err, out)
			return os.WriteFile(filepath.Join(share, "packages.err"), []byte(msg), 0o644)
		}
	}
	return nil
}

// pkgs are the built package files.
type pkgs struct {
	deb1, deb2, rpm1, rpm2 string
}

// requirePackages returns the packages TestMain built. It needs the
// manager (the packages are in its share dir); it fails when they could not
// be built, or skips outside CI when nfpm is missing.
func requirePackages(t *testing.T) pkgs {
	t.Helper()
	testbed.Require(t)
	share := testbed.ShareDir()
	if b, err := os.ReadFile(filepath.Join(share, "packages.err")); err == nil {
		if strings.Contains(string(b), "nfpm: No such file") || strings.Contains(string(b), "nfpm: not found") {
			testbed.SkipOrFail(t, "nfpm is not installed (scripts/deps installs it)")
		}
		t.Fatalf("building the packages failed:\n%s", b)
	}
	one := func(v, pattern string) string {
		m, _ := filepath.Glob(filepath.Join(share, "dist", v, pattern))
		if len(m) != 1 {
			t.Fatalf("want one %s in %s, found %v", pattern, v, m)
		}
		return m[0]
	}
	return pkgs{
		deb1: one(version1, "tenement_*.deb"), deb2: one(version2, "tenement_*.deb"),
		rpm1: one(version1, "tenement-*.rpm"), rpm2: one(version2, "tenement-*.rpm"),
	}
}
