package units

import (
	"strings"
	"testing"

	"github.com/tenement/tenement/config"
)

func TestMarker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		marker string
		want   bool
	}{
		{"own", []string{"PORT=1", MarkerEnv("/var/lib/tenement")}, "/var/lib/tenement", true},
		{"another daemon's", []string{MarkerEnv("/srv/other")}, "/var/lib/tenement", false},
		{"a prefix is not the marker", []string{MarkerEnv("/var/lib/tenement2")}, "/var/lib/tenement", false},
		{"no marker", []string{"PORT=1"}, "", false},
		{"the last assignment wins, as in systemd", []string{MarkerEnv("/a"), MarkerEnv("/b")}, "/b", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HasMarker(tc.env, tc.marker); got != tc.want {
				t.Errorf("HasMarker(%q, %q) = %v, want %v", tc.env, tc.marker, got, tc.want)
			}
		})
	}
	if got := MarkerOf([]string{"TENEMENT_DAEMONX=1", "TENEMENT_DAEMON=/d"}); got != "/d" {
		t.Errorf("MarkerOf = %q", got)
	}
}

// A service's env cannot set the variables a unit carries for the daemon:
// an app's config could otherwise forge another daemon's marker (the last
// assignment wins) or hide a pending restart.
func TestConfigReservesTheMarker(t *testing.T) {
	for _, v := range []string{MarkerVar, ConfigPrintVar} {
		text := "[service.notes]\ncommand = \"/bin/true\"\n[service.notes.env]\n" + v + " = \"/srv/other\"\n"
		if _, err := config.Parse("/etc/tenement/tenement.toml", []byte(text)); err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("a service's env sets %s: %v, want it refused", v, err)
		}
	}
}
