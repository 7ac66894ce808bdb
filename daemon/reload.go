package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/supervisor"
)

// reloader applies a changed config file without a restart:
// `systemctl reload tenement` (ExecReload runs `ten config reload`), `ten
// config reload` (POST /api/config/reload) and SIGHUP all come here. A config
// that does not load, or fails what `ten config check` checks on this
// machine, is refused in one line and the old one stays in force. Else the
// supervisor takes it (added services work at once, changed ones apply at
// each instance's next start, removed ones' instances are orphaned), and
// settings only a restart applies (the listeners, TLS, limits of the API and
// the proxy) are named in the answer.
type reloader struct {
	opts Options // the config path and the flags' overrides
	sup  *supervisor.Supervisor
	log  *slog.Logger
	// sockets are the TCP sockets systemd passed (config.CheckSockets).
	sockets []string

	mu  sync.Mutex // one reload at a time
	cur *config.Config
}

// liveSettings are the [settings] keys a reload applies to the running
// daemon (through the supervisor); a change to any other needs a restart.
var liveSettings = map[string]bool{
	"health_check_interval": true, "max_restarts": true, "restart_window": true,
	"backoff_base_ms": true, "backoff_max_ms": true, "port_range": true, "credentials_dir": true,
}

// Reload reloads the config file.
func (r *reloader) Reload(ctx context.Context) (api.Reloaded, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = activation.Notify(activation.Reloading())
	resp, err := r.reload()
	status := "serving; config reloaded"
	if err != nil {
		status = "serving with the previous config; reload refused: " + err.Error()
		r.log.Error("config reload refused; the previous config stays in force", "err", err)
	}
	_ = activation.Notify(activation.Ready + "\n" + activation.Status(status))
	return resp, err
}

func (r *reloader) reload() (api.Reloaded, error) {
	var resp api.Reloaded
	cfg, err := LoadConfig(r.opts)
	if err != nil {
		return resp, err
	}
	if errs := cfg.CheckHost(); len(errs) > 0 {
		return resp, errs
	}
	if errs := cfg.CheckSockets(r.sockets); len(errs) > 0 {
		return resp, errs
	}
	if err := fleetUnchanged(r.cur, cfg); err != nil {
		return resp, err
	}
	if resp.Reloaded, err = r.sup.Reload(cfg); err != nil {
		return resp, err
	}
	resp.NeedsRestart = restartOnly(r.cur, cfg)
	if len(resp.NeedsRestart) > 0 {
		r.log.Warn("changed settings take effect at the next restart (systemctl restart tenement drops no connection)",
			"settings", strings.Join(resp.NeedsRestart, ", "))
	}
	for _, w := range cfg.Warnings() {
		r.log.Warn("config: " + w.Error())
	}
	r.cur = cfg
	return resp, nil
}

// restartOnly returns the [settings] keys (settings.tls as one) that differ
// between old and cfg and that only a restart applies.
func restartOnly(old, cfg *config.Config) []string {
	var out []string
	a, b := reflect.ValueOf(old.Settings), reflect.ValueOf(cfg.Settings)
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" || liveSettings[key] {
			continue
		}
		ja, _ := json.Marshal(a.Field(i).Interface())
		jb, _ := json.Marshal(b.Field(i).Interface())
		if string(ja) != string(jb) {
			out = append(out, "settings."+key)
		}
	}
	if fmt.Sprint(old.Instances) != fmt.Sprint(cfg.Instances) {
		out = append(out, "instances")
	}
	sort.Strings(out)
	return out
}
