package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// The hostile-tenant suite: tenant "mallory" runs the test app, whose
// /attacks endpoint (internal/testapp/attack.go) tries every attack on
// tenant "alice" and on the host, at each isolation level where the attack
// applies. Every attempt must fail while alice keeps answering. The table
// of attacks, levels and what blocks each is in docs/isolation.md.

// hostileLevel is one isolation level the suite runs at: the service's
// config (without its name) and what the level needs first.
type hostileLevel struct {
	name    string // also the service's name
	service string // the [service.NAME] body; {app} is the test app
	require func(t *testing.T)
}

// tenantUser is the existing user the "process" level runs tenants as.
const tenantUser = "tntenant"

var hostileLevels = []hostileLevel{
	{name: "ns", service: `
command = "{app}"
health = "/health"
isolation = "namespace"
memory_limit_mb = 96
tasks_max = 64
`},
	{name: "box", service: `
command = "{app}"
health = "/health"
isolation = "sandbox"
memory_limit_mb = 256
tasks_max = 96
startup_timeout = "30s"
`, require: requireRunsc},
	{name: "proc", service: `
command = "{app}"
health = "/health"
isolation = "process"
user = "` + tenantUser + `"
memory_limit_mb = 96
tasks_max = 64
`, require: requireTenantUser},
}

// eachLevel runs f at every hostile level, each with its own daemon whose
// config has one service named after the level.
func eachLevel(t *testing.T, settings string, f func(t *testing.T, d *daemon, svc string)) {
	for _, l := range hostileLevels {
		t.Run(l.name, func(t *testing.T) {
			if l.require != nil {
				l.require(t)
			}
			d := startIsolated(t, settings, "[service."+l.name+"]"+l.service)
			f(t, d, l.name)
		})
	}
}

// requireTenantUser creates the process level's tenant user inside the
// test manager (its root filesystem is a throwaway overlay).
func requireTenantUser(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("id", "-u", tenantUser).CombinedOutput(); err == nil && len(out) > 0 {
		return
	}
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", tenantUser).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", tenantUser, err, out)
	}
}

// attackReport is one attack's outcome, as the test app reports it.
type attackReport struct {
	Attack  string `json:"attack"`
	Blocked bool   `json:"blocked"`
	Detail  string `json:"detail"`
}

// attack makes the instance at host run one attack (name) or, with name
// "", every attack, with the given parameters; it returns the reports.
func (d *daemon) attack(host, name string, params url.Values) []attackReport {
	d.t.Helper()
	path := "/attacks"
	if name != "" {
		path = "/attack/" + name
	}
	body := d.must(host, path+"?"+params.Encode())
	var out []attackReport
	if name != "" {
		var one attackReport
		if err := json.Unmarshal([]byte(body), &one); err != nil {
			d.t.Fatalf("%s%s: %v: %s", host, path, err, body)
		}
		return []attackReport{one}
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		d.t.Fatalf("%s%s: %v: %s", host, path, err, body)
	}
	return out
}

// mustBlock fails the test for every report of an attack that succeeded.
func mustBlock(t *testing.T, level string, reports []attackReport) {
	t.Helper()
	for _, r := range reports {
		if !r.Blocked {
			t.Errorf("%s: attack %s succeeded: %s", level, r.Attack, r.Detail)
		} else {
			t.Logf("%s: attack %s blocked: %s", level, r.Attack, oneLineDetail(r.Detail))
		}
	}
}

func oneLineDetail(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// instanceHost is the host name of svc:id on the test daemon.
func (d *daemon) instanceHost(svc, id string) string {
	return fmt.Sprintf("%s.%s.%s", id, svc, d.domain)
}
