package packaging

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestLintian runs Debian's lintian on the .deb. An error (E:) fails the
// test; warnings, info tags and the overrides (packaging/lintian-overrides,
// each with its reason) are logged. An override that no longer matches
// anything is reported by lintian itself (unused-override,
// mismatched-override) and fails here too.
func TestLintian(t *testing.T) {
	p := requirePackages(t)
	if _, err := exec.LookPath("lintian"); err != nil {
		msg := "lintian is not installed (scripts/deps installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// --fail-on none: the exit status says only whether lintian ran.
	cmd := exec.Command("lintian", "--no-cfg", "--fail-on", "none", "--display-info", "--show-overrides", p.deb1)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("lintian did not run: %v\n%s%s", err, out, stderr)
	}
	var errs, rest []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case strings.HasPrefix(line, "E: "):
			errs = append(errs, line)
		case strings.Contains(line, "unused-override") || strings.Contains(line, "mismatched-override"):
			errs = append(errs, line)
		case line != "":
			rest = append(rest, line)
		}
	}
	t.Logf("lintian %s: %d errors; warnings, info and overrides:\n%s", version1, len(errs), strings.Join(rest, "\n"))
	if len(errs) > 0 {
		t.Errorf("lintian reports:\n%s", strings.Join(errs, "\n"))
	}
}
