package config

import (
	"strings"
	"testing"
	"time"
)

func TestKeepAwakeWindows(t *testing.T) {
	c, err := Parse("/etc/t.toml", []byte(`[service.web]
command = "x"
keep_awake = ["mon-fri 08:00-18:00", "sat 22:00-02:00"]
keep_awake_wake = true
probe_paths = ["/health"]
no_wake_user_agents = ["(?i)uptimerobot", "^Pingdom"]
wake = "page"
idle_action = "throttle"
idle_timeout = "5m"
`))
	if err != nil {
		t.Fatal(err)
	}
	svc := c.Services["web"]
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("Mon 2006-01-02 15:04", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tt := range []struct {
		when  string
		in    bool
		until string
	}{
		{"Mon 2026-12-07 08:00", true, "Mon 2026-12-07 18:00"},
		{"Mon 2026-12-07 17:59", true, "Mon 2026-12-07 18:00"},
		{"Mon 2026-12-07 18:00", false, ""},
		{"Sun 2026-12-06 12:00", false, ""},
		{"Sat 2026-12-12 23:00", true, "Sun 2026-12-13 02:00"},
		{"Sun 2026-12-13 01:30", true, "Sun 2026-12-13 02:00"},
		{"Sun 2026-12-13 02:00", false, ""},
	} {
		in, until := svc.KeepAwakeAt(at(tt.when))
		if in != tt.in || (tt.in && !until.Equal(at(tt.until))) {
			t.Errorf("%s: in=%v until %v, want %v %s", tt.when, in, until, tt.in, tt.until)
		}
	}
	if next := svc.NextKeepAwake(at("Fri 2026-12-11 19:00")); !next.Equal(at("Sat 2026-12-12 22:00")) {
		t.Errorf("next window after Friday evening: %v", next)
	}
	if !svc.IsProbe("/health") || svc.IsProbe("/health/x") {
		t.Error("probe paths")
	}
	if !svc.NoWake("Mozilla/5.0 (compatible; UptimeRobot/2.0)") || !svc.NoWake("Pingdom.com_bot") || svc.NoWake("Mozilla/5.0 Pingdom") {
		t.Error("no_wake_user_agents")
	}
	if svc.Wake != WakePage || svc.IdleAction != IdleThrottle || svc.ThrottleCPUPercent != 5 || !svc.Timing() {
		t.Errorf("policy defaults: %+v", svc)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tt := range []struct{ toml, want string }{
		{`wake = "later"`, `service.web.wake: invalid value "later"`},
		{`keep_awake = ["weekdays 8-18"]`, `service.web.keep_awake[0]: "weekdays 8-18": days "weekdays"`},
		{`keep_awake = ["mon 08:00-08:00"]`, `the window is empty`},
		{`keep_awake = ["mon 25:00-26:00"]`, `want hours HH:MM-HH:MM`},
		{`no_wake_user_agents = ["(unclosed"]`, `service.web.no_wake_user_agents[0]: "(unclosed": not a regular expression`},
		{`probe_paths = ["health"]`, `service.web.probe_paths[0]: "health": want a path starting with "/"`},
		{`idle_action = "throttle"`, `service.web.idle_action: "throttle" needs an idle_timeout`},
		{`keep_awake_wake = true`, `service.web.keep_awake_wake: needs keep_awake windows`},
		{`health = "/health check"`, `service.web.health: "/health check": want a path starting with "/", without spaces`},
		{"health = \"/h\\r\\nX: y\"", `without spaces or control characters`},
	} {
		_, err := Parse("/etc/t.toml", []byte("[service.web]\ncommand = \"x\"\n"+tt.toml+"\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.toml, err, tt.want)
		}
	}
}
