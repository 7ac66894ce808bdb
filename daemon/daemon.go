// Package daemon wires `ten serve` together: config, store, the systemd
// connection, the supervisor, the management API on the local socket, and
// the HTTP listener with the proxy, using sockets from systemd when the
// daemon is socket-activated.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/tenement/tenement/activation"
	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/cgroupstat"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/credentials"
	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/journal"
	"github.com/tenement/tenement/metrics"
	"github.com/tenement/tenement/supervisor"
)

// Options are what `ten serve` takes; flags override the config file.
type Options struct {
	ConfigPath string
	Port       int    // > 0 overrides the port of settings.listen
	Domain     string // overrides settings.domain
	// LogWriter receives the daemon's logs (default stderr, which journald
	// captures under systemd).
	LogWriter *os.File
}

// accountingAge is how old the memory and CPU figures of `ten ps`, the API
// and /metrics may be.
const accountingAge = 2 * time.Second

// shutdownGrace bounds how long in-flight requests may take at shutdown.
const shutdownGrace = 10 * time.Second

// Run runs the daemon until ctx is done. Tenants keep running after it
// returns: their units belong to systemd.
func Run(ctx context.Context, o Options) error {
	cfg, err := LoadConfig(o)
	if err != nil {
		return err
	}
	log := newLogger(o.LogWriter, cfg.Settings.LogLevel)
	servePprof(log)
	log.Info("starting", "config", cfg.Path, "data_dir", cfg.Settings.DataDir, "listen", cfg.Settings.Listen, "domain", cfg.Settings.Domain)
	for _, e := range cfg.CheckHost() {
		log.Error("config: " + e.Error()) // that service's instances will not start
	}
	for _, w := range cfg.Warnings() {
		log.Warn("config: " + w.Error())
	}

	ls, err := activation.FromSystemd()
	if err != nil {
		return err
	}
	ls.Classify(roles(cfg)) // one tenement.socket passes all its sockets under one name
	// A listen address the socket from systemd does not listen on is not
	// used (the socket is): say so (a reload refuses such a config).
	for _, e := range cfg.CheckSockets(ls.TCPAddrs()) {
		log.Error("config: " + e.Error())
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	sd, err := dbusapi.Dial(ctx, dbusapi.Options{Log: log})
	if err != nil {
		return err
	}
	defer sd.Close()
	// Metrics count systemd's and the store's errors on the way, and
	// export the count of calls the connection made.
	reg := metrics.New(metrics.Options{Log: log, Runtime: true, Calls: sd})
	doms, err := domains.Open(domains.Options{Store: st, Root: cfg.Settings.Domain, MaxPerInstance: cfg.Settings.DomainsPerInstance(), Log: log})
	if err != nil {
		return err
	}
	opts := supervisor.Options{Config: cfg, Systemd: reg.Systemd(sd), Store: reg.Store(st), Log: log, Observer: reg, Domains: doms}
	// Memory and CPU of every running instance in one pass over the cgroup
	// files, at most once per accountingAge (a scrape, ten ps and the
	// dashboard share a pass).
	if acct, err := cgroupstat.New(cgroupstat.Options{MaxAge: accountingAge}); err != nil {
		log.Warn("no resource accounting: cannot read the cgroup mounts", "err", err)
	} else {
		opts.Accounting = acct
		defer acct.Close() // the cgroup files it keeps open, after the supervisor is done
	}
	sup, err := supervisor.New(opts)
	if err != nil {
		return err
	}
	// With [fleet], this host's part of the fleet (fleet.go); nil without.
	fl, err := joinFleet(cfg, sup, doms, log)
	if err != nil {
		return err
	}
	defer fl.close()

	apiSrv := api.New(fl.instances(sup), log)
	reg.Watch(sup)
	apiSrv.Metrics = reg
	apiSrv.Auditor = reg.Auditor(st)
	apiSrv.Tokens = fl.tokens(st)
	apiSrv.Domains = doms
	apiSrv.Logs = &journal.Reader{}
	apiSrv.Credentials = credentials.Dir{Path: cfg.Settings.CredentialsDir}
	apiSrv.LimitWrites(cfg.Settings.APIWrites())
	reload := &reloader{opts: o, sup: sup, log: log.With("component", "reload"), cur: cfg, sockets: ls.TCPAddrs()}
	apiSrv.Reload = reload.Reload
	// Requests on the root domain of the HTTP listener carry bearer
	// tokens; the local socket's callers are known by their credentials.
	apiSrv.Authenticate = api.TokenAuth(auth.NewAuthenticator(apiSrv.Tokens, nil, cfg.Settings.Trusted(), log))
	fl.wireAPI(apiSrv)
	apiLn, fromSD, err := ls.Unix(activation.NameAPI, cfg.Settings.APISocket, 0o660, groupID(api.Group))
	if err != nil {
		return err
	}
	log.Info("management API", "socket", cfg.Settings.APISocket, "from_systemd", fromSD)
	// The HTTP listener, or with [settings.tls] the HTTPS one and the
	// redirect, and the front proxy's (listeners.go, front.go).
	fronts, err := publicServers(cfg, ls, fl.served(sup), doms, newFrontend(cfg, sup, doms, apiSrv, reg, fl.proxyOptions(cfg), log), log)
	if err != nil {
		apiLn.Close()
		return err
	}
	for _, name := range ls.Unused() {
		log.Warn("systemd passed a socket nobody uses", "name", name)
	}

	servers := append([]*server{
		newServer("api", apiLn, &http.Server{Handler: apiSrv, ConnContext: api.ConnContext, ReadHeaderTimeout: 10 * time.Second}),
	}, fronts...)
	for _, s := range servers {
		s.closeStreams = apiSrv.CloseStreams // log streams never end by themselves (drain.go)
	}
	// SIGHUP reloads the config, as `systemctl reload` and `ten config
	// reload` do; caught before READY=1, so that a reload never kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	errc := make(chan error, len(servers)+1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var supDone sync.WaitGroup
	supDone.Add(1)
	go func() {
		defer supDone.Done()
		// Serving starts only once running units are adopted, so no
		// request sees an adopted instance as asleep; until then the
		// kernel queues connections on the bound sockets.
		err := sup.Run(runCtx, func() {
			for _, s := range servers {
				go s.serve(errc)
			}
			_ = activation.Notify(activation.Ready + "\n" + activation.Status("serving"))
			fl.ready()
			log.Info("ready")
		})
		if err != nil {
			errc <- err
		}
	}()

wait:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down; tenants keep running")
			break wait
		case err = <-errc:
			log.Error("stopping after a fatal error", "err", err)
			break wait
		case <-hup:
			go func() { _, _ = reload.Reload(runCtx) }()
		}
	}
	_ = activation.Notify(activation.Stopping)
	fl.close() // the other hosts stop forwarding here at once
	// Answer every accepted request first (drain.go), with the supervisor
	// still running: a request may be waiting for a wake.
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var drained sync.WaitGroup
	for _, s := range servers {
		drained.Go(func() {
			if err := s.drain(shCtx); err != nil {
				log.Warn("shutdown", "server", s.name, "err", err)
			}
		})
	}
	drained.Wait()
	stop()
	supDone.Wait()
	return err
}

// LoadConfig finds and loads the config and applies the flag overrides.
func LoadConfig(o Options) (*config.Config, error) {
	path := config.Find(o.ConfigPath)
	if path == "" {
		return nil, fmt.Errorf("no config file: pass --config FILE, set TENEMENT_CONFIG, or create %s", config.DefaultPath)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Override(o.Port, o.Domain); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(w *os.File, level string) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// groupID returns the id of a group, or -1 when it does not exist.
func groupID(name string) int {
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1
	}
	return id
}
