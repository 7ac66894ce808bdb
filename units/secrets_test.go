package units

import (
	"slices"
	"testing"

	"github.com/tenement/tenement/config"
)

func TestHiddenPaths(t *testing.T) {
	settings := func(toml string) *config.Settings {
		c, err := config.Parse("/x/tenement.toml", []byte("[settings]\n"+toml+"\n[service.a]\ncommand = \"/srv/a/app\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return &c.Settings
	}
	tests := []struct {
		name     string
		settings string
		config   string
		argv     []string
		want     []string
	}{
		{
			name:   "packaged",
			config: "/etc/tenement/tenement.toml",
			want:   []string{"-/etc/tenement", "-/run/tenement", "-/var/lib/tenement/tenement.db", "-/run/systemd/transient", "-/run/systemd/system", "-/run/dbus"},
		},
		{
			name:     "dedicated dirs elsewhere",
			settings: `api_socket = "/run/ten-1/api.sock"` + "\n" + `credentials_dir = "/srv/secrets/creds"` + "\n" + `front_listen = "unix:/run/front/f.sock"`,
			config:   "/opt/tenement/etc/tenement.toml",
			want: []string{"-/etc/tenement", "-/opt/tenement/etc", "-/run/ten-1", "-/run/front", "-/var/lib/tenement/tenement.db",
				"-/srv/secrets/creds", "-/run/systemd/transient", "-/run/systemd/system", "-/run/dbus"},
		},
		{
			name:     "development dir with the app and its data",
			settings: `data_dir = "/home/dev/site/data"` + "\n" + `api_socket = "/run/api.sock"`,
			config:   "/home/dev/site/tenement.toml",
			argv:     []string{"/home/dev/site/app"},
			want: []string{"-/etc/tenement", "-/home/dev/site/tenement.toml", "-/run/api.sock", "-/home/dev/site/data/tenement.db",
				"-/run/systemd/transient", "-/run/systemd/system", "-/run/dbus"},
		},
		{
			name:     "config dir holds the program only",
			settings: "",
			config:   "/srv/site/tenement.toml",
			argv:     []string{"/usr/bin/python3", "/srv/site/app.py"},
			want:     []string{"-/etc/tenement", "-/srv/site/tenement.toml", "-/run/tenement", "-/var/lib/tenement/tenement.db", "-/run/systemd/transient", "-/run/systemd/system", "-/run/dbus"},
		},
		{
			name:   "config in a shared dir",
			config: "/etc/tenement.toml",
			want:   []string{"-/etc/tenement", "-/etc/tenement.toml", "-/run/tenement", "-/var/lib/tenement/tenement.db", "-/run/systemd/transient", "-/run/systemd/system", "-/run/dbus"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := settings(tt.settings)
			argv := tt.argv
			if argv == nil {
				argv = []string{"/srv/a/app"}
			}
			s := Spec{Settings: set, ConfigPath: tt.config, Argv: argv}
			dataDir := set.DataDir + "/a/x"
			if got := hiddenPaths(s, dataDir, dataDir); !slices.Equal(got, tt.want) {
				t.Errorf("hiddenPaths:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
