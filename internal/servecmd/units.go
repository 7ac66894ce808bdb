package servecmd

import (
	"context"
	"errors"
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

// unitReader is what the store and teardown commands ask systemd;
// *dbusapi.Conn has it.
type unitReader interface {
	List(ctx context.Context, patterns ...string) ([]dbusapi.UnitStatus, error)
	State(ctx context.Context, name string) (dbusapi.UnitState, error)
}

var _ unitReader = (*dbusapi.Conn)(nil)

// ourUnit is a loaded service unit of one daemon's, with its state.
type ourUnit struct {
	n  names.Instance
	st dbusapi.UnitState
}

// ourUnits returns the loaded tenement@ service units that carry marker
// (units.HasMarker), ordered by instance: another daemon's units are never
// touched or reported. A unit whose state cannot be read is left out and
// named in the error, with the others returned.
func ourUnits(ctx context.Context, sd unitReader, marker string) ([]ourUnit, error) {
	list, err := sd.List(ctx, names.UnitPattern)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	var out []ourUnit
	var errs []error
	seen := map[names.Instance]bool{}
	for _, u := range list {
		n, err := names.FromUnit(u.Name)
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		st, err := sd.State(ctx, n.Unit())
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", n.Unit(), err))
			continue
		}
		if st.Loaded() && units.HasMarker(st.Environment, marker) {
			out = append(out, ourUnit{n: n, st: st})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n.Less(out[j].n) })
	return out, errors.Join(errs...)
}

// scanUnits reads the instance records a store can be rebuilt with: one
// per unit of cfg's daemon, of a configured service, with its port from
// PORT= and weight 0.
func scanUnits(ctx context.Context, sd unitReader, cfg *config.Config, now time.Time) (*recoverReport, error) {
	ours, err := ourUnits(ctx, sd, cfg.Settings.DataDir)
	if err != nil {
		return nil, err
	}
	r := &recoverReport{Store: filepath.Join(cfg.Settings.DataDir, store.FileName), Recovered: []recoveredUnit{}, Skipped: []string{}, Lost: lost}
	for _, u := range ours {
		port, why := unitPort(u.st, cfg, u.n)
		if why != "" {
			r.Skipped = append(r.Skipped, u.n.Unit()+": "+why)
			continue
		}
		r.records = append(r.records, store.Instance{Service: u.n.Service, ID: u.n.ID, Port: port, Weight: 0, CreatedAt: now})
		r.Recovered = append(r.Recovered, recoveredUnit{Instance: u.n.String(), Port: port, Unit: u.n.Unit(), State: u.st.ActiveState})
	}
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
