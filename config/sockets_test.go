package config

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckSockets(t *testing.T) {
	parse := func(settings string) *Config {
		t.Helper()
		c, err := Parse("/etc/tenement/tenement.toml", []byte("[settings]\n"+settings+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	packaged := []string{"[::]:8080"}
	for _, tc := range []struct {
		name, settings string
		sockets        []string
		want           string // "" for no error
	}{
		{"default listen, packaged socket", ``, packaged, ""},
		{"a host the socket ignores", `listen = "127.0.0.1:8080"`, packaged,
			`/etc/tenement/tenement.toml:2: settings.listen: "127.0.0.1:8080": tenement.socket listens on [::]:8080, and systemd's socket is the one used; make them agree: ListenStream=127.0.0.1:8080 in tenement.socket (systemctl edit tenement.socket), or :8080 in the config`},
		{"the socket narrowed to loopback, the config everywhere", ``, []string{"127.0.0.1:8080"},
			`settings.listen: ":8080": tenement.socket listens on 127.0.0.1:8080, and systemd's socket is the one used; make them agree: ListenStream=8080 in tenement.socket (systemctl edit tenement.socket), or 127.0.0.1:8080 in the config`},
		{"both on loopback", `listen = "127.0.0.1:8080"`, []string{"127.0.0.1:8080"}, ""},
		{"another port: not this listener's socket", `listen = "127.0.0.1:9090"`, packaged, ""},
		{"a host name is not checked", `listen = "localhost:8080"`, packaged, ""},
		{"the front listener", "front_listen = \"10.0.0.5:8081\"", []string{"[::]:8080", "0.0.0.0:8081"}, `settings.front_listen: "10.0.0.5:8081"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parse(tc.settings).CheckSockets(tc.sockets)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("got %v, want none", errs)
			case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want)):
				t.Errorf("got %v, want one error with %q", errs, tc.want)
			}
		})
	}
}

func TestParseSystemdListen(t *testing.T) {
	out := "Listen=[::]:8080 (Stream)\nListen=/run/tenement/api.sock (Stream)\nListen=127.0.0.1:443 (Stream)\nListen=[::]:53 (Datagram)\nListen=9000 (Stream)\n"
	if got, want := ParseSystemdListen(out), []string{"[::]:8080", "127.0.0.1:443", "[::]:9000"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
