package testbed

import (
	"os"
	"testing"
)

// Strict reports whether a test that cannot run on this machine must fail
// instead of skipping: $CI is non-empty or TENEMENT_REQUIRE_SYSTEMD=1. In
// CI a skip would hide a broken machine (no manager, no runsc, no caddy).
func Strict() bool {
	return os.Getenv("CI") != "" || os.Getenv(EnvRequire) == "1"
}

// SkipOrFail skips a test that lacks what it needs (msg says what, and how
// to get it), or fails it when Strict.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if Strict() {
		t.Fatal(msg + " (a skip counts as a failure because $CI or " + EnvRequire + "=1 is set)")
	}
	t.Skip(msg)
}
