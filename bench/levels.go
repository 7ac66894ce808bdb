package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/isolation"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// Wake latency by isolation level (issue 6): for namespace and sandbox, a
// proxy-held wake through tenement next to a bare StartTransientUnit of
// the same rendered unit properties that runs what tenement's wrapper runs,
// without the wrapper:
//
//   - namespace: the app itself (plain ExecStart): systemd's sandbox and
//     dynamic user are the floor; the wrapper (`ten isolate namespace`, its
//     user lookup, re-exec into a PID and mount namespace, /proc mount)
//     is tenement's own share.
//   - sandbox: runsc itself, as root ("!", as the wrapper starts it), with
//     the wrapper's flags (isolation.RunscArgs) on a bundle written before
//     the start (isolation.BundleSpec, the instance's dynamic UID): gVisor
//     is the floor; the wrapper's start, user lookup and bundle writing
//     are tenement's own share.
//
// A third path splits tenement's share: a bare StartTransientUnit of the
// unit exactly as tenement renders it, wrapper included (of another
// instance, so with its own data dir and dynamic user). Its difference to
// the floor is the wrapper's cost; tenement's wake minus it is the
// daemon's and the proxy's.
//
// The process level's row is the proxy-held wake of section (a).

// levelServices are the bench config's services per isolation level, all
// proxy-held with ready = "tcp" like held.
var levelServices = map[string]string{
	config.IsolationNamespace: "ns",
	config.IsolationSandbox:   "sbx",
}

// levelServiceConfig is the config of one level's service.
const levelServiceConfig = `
[service.%s]
command = %q
isolation = %q
activation = "proxy"
ready = "tcp"
wake_timeout = "10s"
`

// sandboxTmp is where the sandbox floor keeps runsc's state and pid file,
// as the wrapper does (isolation's sandboxDir): in the unit's private /tmp,
// the only place the unit may write besides the data dir.
const sandboxTmp = "/tmp/tenement-sandbox"

// noSetUID is the ExecStartEx flag of the "!" prefix.
const noSetUID = "no-setuid"

// parseLevels reads LEVELS: isolation levels separated by commas or
// spaces. process is always measured (section a); the result holds the
// other levels in a fixed order.
func parseLevels(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return []string{config.IsolationNamespace, config.IsolationSandbox}, nil
	}
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		switch f {
		case config.IsolationProcess:
		case config.IsolationNamespace, config.IsolationSandbox:
			out = append(out, f)
		default:
			return nil, fmt.Errorf("LEVELS: unknown isolation level %q (want process, namespace, sandbox)", f)
		}
	}
	order := []string{config.IsolationNamespace, config.IsolationSandbox}
	out = slices.DeleteFunc(order, func(l string) bool { return !slices.Contains(out, l) })
	return out, nil
}

// levelInstance is the instance woken at an isolation level.
func levelInstance(level string) names.Instance { return mustName(levelServices[level], "w") }

// levelResult is one level's wakes through tenement and its floor.
type levelResult struct {
	level       string
	ten         sample // tenement, proxy-held: request → 200
	took        sample // the daemon's own "instance ready took="
	floor       sample // bare StartTransientUnit → first 200
	floorJob    sample // bare StartTransientUnit → job done
	wrapped     sample // bare StartTransientUnit of tenement's unit, wrapper included → first 200
	floorIs     string // what the floor runs, for the report
	dynamicUser isolation.User
}

// levelPath is one level's instance, its connection through the proxy and
// its floor.
type levelPath struct {
	res     *levelResult
	n       names.Instance
	conn    *conn
	floor   *startFloor
	wrapped *startFloor
}

// measureLevels wakes each level's instance and runs its floor, level by
// level and wake by wake, iters counted wakes per path after warm ones.
func measureLevels(ctx context.Context, p params, d *daemon, sd *dbusapi.Conn) ([]*levelResult, error) {
	var paths []*levelPath
	defer func() {
		for _, lp := range paths {
			lp.conn.close()
			_ = lp.floor.reset(context.WithoutCancel(ctx))
			_ = lp.wrapped.reset(context.WithoutCancel(ctx))
		}
	}()
	for _, level := range p.levels {
		lp, err := newLevelPath(ctx, p, d, sd, level)
		if err != nil {
			return nil, fmt.Errorf("%s floor: %w", level, err)
		}
		paths = append(paths, lp)
	}
	offsets := make([]int64, len(paths))
	for i := -p.warm; i < p.isoWakes; i++ {
		for j, lp := range paths {
			if i == 0 {
				_, offsets[j] = d.readyTook(lp.n, 0)
			}
			t, err := wakeProxyHeld(ctx, d, sd, lp.n, lp.conn)
			if err != nil {
				return nil, fmt.Errorf("%s: proxy-held wake %d: %w", lp.res.level, i, err)
			}
			fs, err := startOnce(ctx, lp.floor)
			if err != nil {
				return nil, fmt.Errorf("%s: bare start %d: %w", lp.res.level, i, err)
			}
			ws, err := startOnce(ctx, lp.wrapped)
			if err != nil {
				return nil, fmt.Errorf("%s: bare start with the wrapper %d: %w", lp.res.level, i, err)
			}
			if i >= 0 {
				lp.res.ten = append(lp.res.ten, t)
				lp.res.floor = append(lp.res.floor, fs.first)
				lp.res.floorJob = append(lp.res.floorJob, fs.job)
				lp.res.wrapped = append(lp.res.wrapped, ws.first)
			}
		}
		if i >= 0 && (i+1)%10 == 0 {
			log.Printf("levels: %d/%d", i+1, p.isoWakes)
		}
	}
	out := make([]*levelResult, len(paths))
	for j, lp := range paths {
		lp.res.took, _ = d.readyTook(lp.n, offsets[j])
		out[j] = lp.res
	}
	return out, nil
}

// startOnce times one start of f after the settle pause and stops it
// again.
func startOnce(ctx context.Context, f *startFloor) (startSample, error) {
	time.Sleep(settle)
	s, err := f.once(ctx)
	if rerr := f.reset(ctx); err == nil {
		err = rerr
	}
	return s, err
}

func newLevelPath(ctx context.Context, p params, d *daemon, sd *dbusapi.Conn, level string) (*levelPath, error) {
	svc := levelServices[level]
	n := levelInstance(level)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	u, err := floorUnits(d.cfg, svc, p.app, p.ten, port)
	if err != nil {
		return nil, err
	}
	// The floor's app runs as the unit's dynamic user (namespace): it
	// must enter its working dir, the data dir. tenement's wrapper gives
	// the dir to the user; the floor leaves it root's, world-searchable
	// (the rest of the data root is hidden in the unit either way).
	if err := os.Chmod(u.DataDir, 0o755); err != nil {
		return nil, err
	}
	lp := &levelPath{
		res:   &levelResult{level: level},
		n:     n,
		conn:  newConn(d.listen, host(n), "/"),
		floor: &startFloor{sd: sd, unit: "tenement-bench-floor-" + svc + ".service", addr: u.ListenAddress},
	}
	lp.conn.keep = true
	// The unit as tenement renders it, wrapper included.
	wport, err := freePort()
	if err != nil {
		return nil, err
	}
	wu, err := instanceUnits(d.cfg, svc, "wrapped", p.app, p.ten, wport)
	if err != nil {
		return nil, err
	}
	lp.wrapped = &startFloor{sd: sd, unit: "tenement-bench-wrapped-" + svc + ".service", props: wu.Service, addr: wu.ListenAddress}
	switch level {
	case config.IsolationNamespace:
		lp.floor.props, err = withExec(u.Service, units.Exec{Path: p.app, Argv: []string{p.app}})
		lp.res.floorIs = "the app itself (plain `ExecStart=`, run as the dynamic user by systemd)"
	case config.IsolationSandbox:
		err = sandboxFloor(ctx, p, lp, u)
	default:
		err = fmt.Errorf("no floor for isolation %q", level)
	}
	if err != nil {
		return nil, err
	}
	return lp, nil
}

// sandboxFloor makes lp's floor run runsc directly: the wrapper's runsc
// command line on a bundle written before the start. The bundle's user is
// the floor unit's dynamic user, learned in one start of the floor (with a
// placeholder user) before the timed ones.
func sandboxFloor(ctx context.Context, p params, lp *levelPath, u units.Units) error {
	runsc, err := exec.LookPath("runsc")
	if err != nil {
		return fmt.Errorf("isolation sandbox needs gVisor's runsc (scripts/deps installs it; LEVELS=process,namespace skips it): %w", err)
	}
	fn, err := names.New(levelServices[config.IsolationSandbox], "floor")
	if err != nil {
		return err
	}
	o := isolation.Options{
		Mode: isolation.ModeSandbox, User: isolation.UserName(fn), DataDir: u.DataDir,
		ID: isolation.ContainerID(fn), Argv: []string{p.app},
	}
	bundle := filepath.Join(p.work, "floor-sandbox", "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return err
	}
	// The unit's environment as the wrapper sees it, less what systemd
	// adds per run (INVOCATION_ID and the like, which BundleSpec would
	// mostly drop or which mean nothing to the app).
	env := append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, u.Environment...)
	write := func(usr isolation.User) error {
		spec, err := isolation.BundleSpec(o, usr, env, u.DataDir)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(bundle, "config.json"), spec, 0o644)
	}
	args := isolation.RunscArgs(runsc, sandboxTmp, o.ID)
	i := slices.Index(args, "--bundle")
	if i < 0 || i+1 >= len(args) {
		return fmt.Errorf("isolation.RunscArgs has no --bundle: %q", args)
	}
	args[i+1] = bundle
	if lp.floor.props, err = withExec(u.Service, units.Exec{Path: runsc, Argv: args, Flags: []string{noSetUID}}); err != nil {
		return err
	}
	lp.res.floorIs = "`!" + strings.Join(args, " ") + "`"

	// One untimed start with a placeholder user, to learn the UID
	// systemd gives the floor's dynamic user (the same on every start: it
	// is hashed from the name).
	if err := write(isolation.User{UID: 65534, GID: 65534}); err != nil {
		return err
	}
	if _, err := lp.floor.once(ctx); err != nil {
		_ = lp.floor.reset(ctx)
		return fmt.Errorf("first start: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	usr, err := isolation.LookupUser(lctx, isolation.DynamicUserSocket, o.User)
	cancel()
	if rerr := lp.floor.reset(ctx); err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	lp.res.dynamicUser = usr
	return write(usr)
}

// withExec returns props with the wrapper's ExecStartEx replaced by e
// (ExecStartEx when e has flags, else ExecStart).
func withExec(props []units.Property, e units.Exec) ([]units.Property, error) {
	out := slices.Clone(props)
	name := "ExecStart"
	if len(e.Flags) > 0 {
		name = "ExecStartEx"
	}
	for i, p := range out {
		if p.Name == "ExecStartEx" || p.Name == "ExecStart" {
			out[i] = units.Property{Name: name, Value: []units.Exec{e}}
			return out, nil
		}
	}
	return nil, fmt.Errorf("rendered unit has no ExecStart")
}
