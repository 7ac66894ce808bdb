package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/units"
)

// unitReader is what ten store recover asks systemd; *dbusapi.Conn has it.
type unitReader interface {
	List(ctx context.Context, patterns ...string) ([]dbusapi.UnitStatus, error)
	State(ctx context.Context, name string) (dbusapi.UnitState, error)
}

var _ unitReader = (*dbusapi.Conn)(nil)

// scanUnits reads the instance records a store can be rebuilt with: one
// per loaded tenement@ unit whose service unit carries cfg's marker, of a
// configured service, with its port from PORT= and weight 0. Units of
// another daemon are not touched or reported.
func scanUnits(ctx context.Context, sd unitReader, cfg *config.Config, now time.Time) (*recoverReport, error) {
	list, err := sd.List(ctx, names.UnitPattern)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	r := &recoverReport{Store: filepath.Join(cfg.Settings.DataDir, store.FileName), Recovered: []recoveredUnit{}, Skipped: []string{}, Lost: lost}
	seen := map[names.Instance]bool{}
	for _, u := range list {
		n, err := names.FromUnit(u.Name)
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		st, err := sd.State(ctx, n.Unit())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n.Unit(), err)
		}
		if !st.Loaded() || !units.HasMarker(st.Environment, cfg.Settings.DataDir) {
			continue
		}
		port, why := unitPort(st, cfg, n)
		if why != "" {
			r.Skipped = append(r.Skipped, n.Unit()+": "+why)
			continue
		}
		r.records = append(r.records, store.Instance{Service: n.Service, ID: n.ID, Port: port, Weight: 0, CreatedAt: now})
		r.Recovered = append(r.Recovered, recoveredUnit{Instance: n.String(), Port: port, Unit: n.Unit(), State: st.ActiveState})
	}
	sort.Slice(r.Recovered, func(i, j int) bool { return r.Recovered[i].Instance < r.Recovered[j].Instance })
	return r, nil
}

// unitPort returns the port of one of our units, or why it cannot be
// recovered.
func unitPort(st dbusapi.UnitState, cfg *config.Config, n names.Instance) (int, string) {
	if cfg.Services[n.Service] == nil {
		return 0, fmt.Sprintf("service %q is no longer configured", n.Service)
	}
	v, _ := units.EnvValue(st.Environment, "PORT")
	port, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Sprintf("no valid PORT= in its environment (%q)", v)
	}
	return port, ""
}
