package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
)

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string // want: the secret, or a piece of the error
		ok                  bool
	}{
		{"good", "  " + strings.Repeat("k", 43) + "\n", strings.Repeat("k", 43), true},
		{"short", "tooshort\n", "at least 32 characters", false},
		{"two words", strings.Repeat("k", 20) + " " + strings.Repeat("k", 20), "one line", false},
		{"missing", "", "head -c 32 /dev/urandom", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.name != "missing" {
				if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readSecret(p, slog.New(slog.DiscardHandler))
			if tc.ok && (err != nil || got != tc.want) {
				t.Errorf("readSecret = %q, %v; want %q", got, err, tc.want)
			}
			if !tc.ok && (err == nil || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("readSecret error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// TestFleetChangeNeedsRestart: a reload may change anything but [fleet].
func TestFleetChangeNeedsRestart(t *testing.T) {
	parse := func(extra string) *config.Config {
		t.Helper()
		c, err := config.Parse("/etc/tenement/tenement.toml", []byte("[settings]\nlisten = \"10.0.0.5:8080\"\n"+extra))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := "[fleet]\nendpoints = [\"http://10.0.0.1:2379\"]\nhost = \"h1\"\n"
	for _, tc := range []struct {
		name     string
		old, new string
		refused  bool
	}{
		{"no fleet", "", "", false},
		{"same fleet", base, base, false},
		{"joins", "", base, true},
		{"leaves", base, "", true},
		{"capacity", base, base + "capacity = 5\n", true},
	} {
		err := fleetUnchanged(parse(tc.old), parse(tc.new))
		if (err != nil) != tc.refused || (err != nil && !strings.Contains(err.Error(), "[fleet] cannot change at a reload")) {
			t.Errorf("%s: %v, refused want %v", tc.name, err, tc.refused)
		}
	}
}

func TestEtcdTLS(t *testing.T) {
	if c, err := etcdTLS(&config.Fleet{}); c != nil || err != nil {
		t.Errorf("no keys: %v %v, want no TLS", c, err)
	}
	bad := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := etcdTLS(&config.Fleet{CAFile: bad}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}
