package dbusapi

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/units"
)

// Aux is an auxiliary unit started in the same StartTransientUnit call (the
// service of a socket unit).
type Aux struct {
	Name       string
	Properties []units.Property
}

// StartTransient creates and starts a transient unit and waits for its start
// job. It returns nil only for the job result "done"; any other result is an
// error naming the unit and the result.
func (c *Conn) StartTransient(ctx context.Context, name string, props []units.Property, aux ...Aux) error {
	p, err := convertAll(props)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	collections := make([]sd.PropertyCollection, 0, len(aux))
	for _, a := range aux {
		ap, err := convertAll(a.Properties)
		if err != nil {
			return fmt.Errorf("start %s: aux %s: %w", name, a.Name, err)
		}
		collections = append(collections, sd.PropertyCollection{Name: a.Name, Properties: ap})
	}
	return c.job(ctx, "start", name, func(sc *sd.Conn, ch chan string) error {
		_, err := sc.StartTransientUnitAux(ctx, name, "fail", p, collections, ch)
		if isUnitExists(err) {
			return fmt.Errorf("%w: %s already exists: %w", errdefs.ErrConflict, name, err)
		}
		return err
	})
}

// Start starts an existing (loaded) unit and waits for the job.
func (c *Conn) Start(ctx context.Context, name string) error {
	return c.job(ctx, "start", name, func(sc *sd.Conn, ch chan string) error {
		_, err := sc.StartUnitContext(ctx, name, "replace", ch)
		return err
	})
}

// Stop stops a unit and waits for the job. Stopping a unit that is not
// loaded succeeds.
func (c *Conn) Stop(ctx context.Context, name string) error {
	err := c.job(ctx, "stop", name, func(sc *sd.Conn, ch chan string) error {
		_, err := sc.StopUnitContext(ctx, name, "replace", ch)
		return err
	})
	if isNoSuchUnit(err) {
		return nil
	}
	return err
}

// ResetFailed clears a unit's failed state (and its start rate limit), so a
// failed transient unit can be collected and its name used again. A unit
// that is not loaded is not an error.
func (c *Conn) ResetFailed(ctx context.Context, name string) error {
	err := c.do(ctx, func(sc *sd.Conn) error { return sc.ResetFailedUnitContext(ctx, name) })
	if err != nil && !isNoSuchUnit(err) {
		return fmt.Errorf("reset-failed %s: %w", name, err)
	}
	return nil
}

// job runs a job-creating call and waits for the job's result.
func (c *Conn) job(ctx context.Context, verb, name string, call func(sc *sd.Conn, ch chan string) error) error {
	// Buffered: go-systemd's dispatcher blocks on this send, and the result
	// may arrive after ctx is done.
	ch := make(chan string, 1)
	if err := c.do(ctx, func(sc *sd.Conn) error { return call(sc, ch) }); err != nil {
		if isNoSuchUnit(err) {
			return err
		}
		return fmt.Errorf("%s %s: %w", verb, name, err)
	}
	select {
	case result := <-ch:
		if result == "done" {
			return nil
		}
		return fmt.Errorf("%s %s: job %s", verb, name, result)
	case <-ctx.Done():
		return fmt.Errorf("%w: %s %s: %w", errdefs.ErrTimeout, verb, name, ctx.Err())
	}
}

// UnitState is a unit's state as systemd reports it. Its states are
// strings still, for the supervisor; Unit (from Watch and Snapshot) has
// them typed.
type UnitState struct {
	Name        string
	LoadState   string // "loaded", "not-found", ...
	ActiveState string // "active", "activating", "deactivating", "inactive", "failed", ...
	SubState    string // "running", "auto-restart", "dead", "failed", ...
	Result      string // "success", "exit-code", "signal", ...
	MainPID     uint32
	NRestarts   uint32
	// MemoryCurrent and CPUUsageNSec are systemd's accounting; ok is false
	// when systemd does not report them (e.g. CPU on cgroup v1).
	MemoryCurrent   uint64
	MemoryOK        bool
	CPUUsageNSec    uint64
	CPUOK           bool
	ActiveEnter     time.Time // when the unit last entered "active"
	InvocationID    string
	Environment     []string
	ExecMainStatus  int32
	ExecMainCode    int32
	StateChangeTime time.Time
}

// Loaded reports whether systemd knows the unit.
func (u UnitState) Loaded() bool { return u.LoadState != "" && LoadState(u.LoadState) != NotFound }

// State reads a unit's state (with the service properties for a
// .service unit). A unit systemd does not know has
// LoadState "not-found" and no error.
func (c *Conn) State(ctx context.Context, name string) (UnitState, error) {
	var up, sp map[string]any
	err := c.do(ctx, func(sc *sd.Conn) error {
		var err error
		if up, err = sc.GetUnitPropertiesContext(ctx, name); err != nil {
			return err
		}
		if load, _ := up["LoadState"].(string); LoadState(load) == NotFound || !strings.HasSuffix(name, ".service") {
			return nil
		}
		sp, err = sc.GetUnitTypePropertiesContext(ctx, name, "Service")
		return err
	})
	if err != nil {
		return UnitState{}, fmt.Errorf("read %s: %w", name, err)
	}
	s := UnitState{Name: name}
	s.LoadState, _ = up["LoadState"].(string)
	s.ActiveState, _ = up["ActiveState"].(string)
	s.SubState, _ = up["SubState"].(string)
	s.ActiveEnter = usecTime(up["ActiveEnterTimestamp"])
	s.StateChangeTime = usecTime(up["StateChangeTimestamp"])
	if id, ok := up["InvocationID"].([]byte); ok {
		s.InvocationID = fmt.Sprintf("%x", id)
	}
	if sp != nil {
		s.Result, _ = sp["Result"].(string)
		s.MainPID, _ = sp["MainPID"].(uint32)
		s.NRestarts, _ = sp["NRestarts"].(uint32)
		s.Environment, _ = sp["Environment"].([]string)
		s.ExecMainStatus, _ = sp["ExecMainStatus"].(int32)
		s.ExecMainCode, _ = sp["ExecMainCode"].(int32)
		s.MemoryCurrent, s.MemoryOK = accounting(sp["MemoryCurrent"])
		s.CPUUsageNSec, s.CPUOK = accounting(sp["CPUUsageNSec"])
	}
	return s, nil
}

// accounting reads an accounting value; systemd reports "unknown" as
// UINT64_MAX.
func accounting(v any) (uint64, bool) {
	n, ok := v.(uint64)
	if !ok || n == math.MaxUint64 {
		return 0, false
	}
	return n, true
}

func usecTime(v any) time.Time {
	n, ok := v.(uint64)
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(n))
}

// UnitStatus is one entry of List.
type UnitStatus struct {
	Name, LoadState, ActiveState, SubState string
}

// List returns the loaded units whose names match any of the patterns
// (shell globs, e.g. "tenement@*").
func (c *Conn) List(ctx context.Context, patterns ...string) ([]UnitStatus, error) {
	var us []sd.UnitStatus
	err := c.do(ctx, func(sc *sd.Conn) error {
		var err error
		us, err = sc.ListUnitsByPatternsContext(ctx, nil, patterns)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list units %v: %w", patterns, err)
	}
	out := make([]UnitStatus, len(us))
	for i, u := range us {
		out[i] = UnitStatus{Name: u.Name, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState}
	}
	return out, nil
}

// WaitUnloaded waits until systemd has let go of the unit: after a stop, a
// transient unit is garbage-collected shortly after its job ends, and only
// then can its name be used for a new one. A unit that is still
// deactivating is waited for too. A failed unit stays loaded (so that
// systemctl status shows the failure) until ResetFailed: WaitUnloaded
// returns at once for it with an ErrConflict error.
func (c *Conn) WaitUnloaded(ctx context.Context, name string) error {
	delay := 500 * time.Microsecond
	for {
		us, err := c.List(ctx, name)
		if err != nil {
			return err
		}
		if len(us) == 0 {
			return nil
		}
		if ActiveState(us[0].ActiveState) == Failed {
			return fmt.Errorf("%w: %s failed and stays loaded until reset-failed", errdefs.ErrConflict, name)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for %s to unload (%s/%s): %w", errdefs.ErrTimeout, name, us[0].ActiveState, us[0].SubState, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// SetProperties changes properties of a running unit at runtime only
// (until it stops: systemctl set-property --runtime), e.g. lowered CPU and
// memory of an idle instance.
func (c *Conn) SetProperties(ctx context.Context, name string, props []units.Property) error {
	p, err := convertAll(props)
	if err != nil {
		return fmt.Errorf("set properties of %s: %w", name, err)
	}
	if err := c.do(ctx, func(sc *sd.Conn) error { return sc.SetUnitPropertiesContext(ctx, name, true, p...) }); err != nil {
		return fmt.Errorf("set properties of %s: %w", name, err)
	}
	return nil
}
