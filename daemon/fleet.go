package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/credentials"
	"github.com/tenement/tenement/domains"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/fleet"
	"github.com/tenement/tenement/fleetops"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/proxy"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
)

// The daemon in a fleet (SPEC §12, docs/fleet.md).
//
// Without [fleet] nothing here runs and the daemon is one host on its
// own. With it, the daemon starts this host's etcd agent (package fleet):
// its liveness key under a lease, a watched cache of the fleet, and the
// sync that registers here what is placed here and forgets what is not.
// The supervisor places the instances requests create (spawn_on_request)
// and unplaces those it forgets; the API's instances, tokens and the
// fleet's routes are the fleet's (package fleetops); the proxy forwards
// other hosts' instances to them and believes a proven peer (proxy's
// fleet.go). At shutdown the agent revokes the lease first, so that the
// other hosts see this one gone at once (503 for its instances) instead of
// forwarding to a daemon that is going away. [fleet] cannot change at a
// reload: the agent, the secret and the listeners' peers are the
// daemon's for its lifetime.

// fleetMode is what [fleet] adds to the daemon; nil without it (its
// methods then leave the daemon as it is).
type fleetMode struct {
	cfg    *config.Fleet
	agent  *fleet.Agent
	ops    *fleetops.Ops
	secret string
	local  netip.Addr // this host's advertised IP
	log    *slog.Logger
	// life ends at close (the wait to follow the fleet's domains).
	life context.Context
	end  context.CancelFunc
}

// syncWait bounds how long the daemon waits at start for its first view
// of the fleet; without one (etcd is away) it serves its own instances.
const syncWait = 3 * time.Second

// joinFleet starts this host's part of the fleet, when cfg has [fleet].
// The custom domains' table then follows the fleet's (in etcd): every host
// routes every custom domain, and gets its certificate on demand.
func joinFleet(cfg *config.Config, sup *supervisor.Supervisor, doms *domains.Table, log *slog.Logger) (*fleetMode, error) {
	f := cfg.Fleet
	if f == nil {
		return nil, nil
	}
	secret, err := readSecret(f.SecretFile, log)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := etcdTLS(f)
	if err != nil {
		return nil, err
	}
	m := &fleetMode{cfg: f, secret: secret, log: log}
	m.life, m.end = context.WithCancel(context.Background())
	if host, _, err := net.SplitHostPort(f.Advertise); err == nil {
		m.local, _ = netip.ParseAddr(host)
	}
	late := &lateConsumer{set: make(chan struct{})}
	m.agent, err = fleet.New(fleet.Options{Endpoints: f.Endpoints, TLS: tlsCfg, Cluster: f.Cluster, Host: f.Host,
		Addr: f.Advertise, Capacity: f.Capacity, TTL: f.LeaseTTL.D(), WriteTimeout: f.WriteTimeout.D(),
		Awake: sup.AwakeCount, Consumer: late, OnDomains: func() {
			if err := doms.Reload(); err != nil {
				log.Warn("fleet: reloading the custom domains", "err", err)
			}
		}, Log: log})
	if err != nil {
		return nil, err
	}
	m.ops = fleetops.New(fleetops.Options{Agent: m.agent, Local: sup, Credentials: credentials.Dir{Path: cfg.Settings.CredentialsDir},
		Secret: secret, LocalAddr: m.local, Log: log})
	late.c = m.ops.Consumer()
	close(late.set)
	sup.SetPlacer(m.ops.Placer())
	ctx, cancel := context.WithTimeout(context.Background(), syncWait)
	defer cancel()
	if err := m.agent.Synced(ctx); err != nil {
		log.Warn("no view of the fleet yet: serving this host's own instances and custom domains; forwarding starts when etcd answers",
			"endpoints", strings.Join(f.Endpoints, ","), "err", err)
		// The domains follow the fleet once it is in view.
		go func() {
			if m.agent.Synced(m.life) == nil {
				m.followDomains(doms)
			}
		}()
	} else {
		log.Info("joined the fleet", "host", f.Host, "cluster", f.Cluster, "advertise", f.Advertise, "hosts", len(m.agent.Hosts()))
		m.followDomains(doms)
	}
	return m, nil
}

// followDomains makes the fleet's domains the table's (bringing this
// host's own along).
func (m *fleetMode) followDomains(doms *domains.Table) {
	if err := doms.Follow(m.ops.DomainStore()); err != nil {
		m.log.Warn("fleet: following the fleet's custom domains", "err", err)
	}
}

// instances is what the API and the host policy serve: the fleet's view,
// or the supervisor's own.
func (m *fleetMode) instances(sup *supervisor.Supervisor) api.Instances {
	if m == nil {
		return sup
	}
	return m.ops.Instances()
}

// served is what the host policy asks (which names get a certificate, and
// Caddy's ask): in a fleet, every instance placed anywhere.
func (m *fleetMode) served(sup *supervisor.Supervisor) Instances {
	if m == nil {
		return sup
	}
	return fleetServed{sup, m.ops}
}

type fleetServed struct {
	*supervisor.Supervisor
	ops *fleetops.Ops
}

func (f fleetServed) Known(n names.Instance) bool { return f.ops.Served(n) }

// tokens is where tokens live: in etcd for the fleet, or the store.
func (m *fleetMode) tokens(st *store.Store) api.TokenStore {
	if m == nil {
		return st
	}
	return m.ops.Tokens(st)
}

// wireAPI gives the API the fleet's routes and its peers' identity.
func (m *fleetMode) wireAPI(s *api.Server) {
	if m == nil {
		return
	}
	s.Fleet = m.ops
	s.Authenticate = api.FleetAuth(s.Authenticate)
}

// proxyOptions are the proxy's forwarding to the other hosts.
func (m *fleetMode) proxyOptions(cfg *config.Config) *proxy.FleetOptions {
	if m == nil {
		return nil
	}
	// A peer counts this host as one client of max_conns_per_client:
	// keep to half of it.
	return &proxy.FleetOptions{Fleet: m.ops.Proxy(), Host: m.cfg.Host, Secret: m.secret, LocalAddr: m.local,
		MaxConnsPerHost: cfg.Settings.ConnsPerClient() / 2}
}

// ready lets the fleet's sync change the supervisor, which runs now.
func (m *fleetMode) ready() {
	if m != nil {
		m.ops.Ready()
	}
}

// close leaves the fleet: the lease is revoked (the other hosts see this
// one gone at once), the sync and the operations end. Tenants keep
// running.
func (m *fleetMode) close() {
	if m == nil {
		return
	}
	m.end()
	m.ops.Close()
	if err := m.agent.Close(); err != nil {
		m.log.Debug("fleet: close", "err", err)
	}
}

// lateConsumer is the agent's Consumer before the operations exist: the
// agent needs one when it starts, the operations need the agent.
type lateConsumer struct {
	set chan struct{}
	c   fleet.Consumer
}

func (l *lateConsumer) CreateMany(ns []names.Instance) (int, error) {
	<-l.set
	return l.c.CreateMany(ns)
}
func (l *lateConsumer) Instances() []names.Instance { <-l.set; return l.c.Instances() }
func (l *lateConsumer) Delete(ctx context.Context, n names.Instance, purge bool) error {
	<-l.set
	return l.c.Delete(ctx, n, purge)
}

// minSecret is the shortest fleet secret the daemon takes.
const minSecret = 32

// readSecret reads the fleet's secret: at least minSecret characters,
// surrounding space trimmed.
func readSecret(path string, log *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: fleet.secret_file: %w (every host of the fleet needs the same secret: head -c 32 /dev/urandom | base64 > %s; chmod 600 %s)",
			errdefs.ErrInvalid, err, path, path)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < minSecret || strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("%w: fleet.secret_file %s: want one line of at least %d characters", errdefs.ErrInvalid, path, minSecret)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("fleet.secret_file is readable by others than its owner: chmod 600 it", "path", path)
	}
	return s, nil
}

// etcdTLS is the client TLS of [fleet] for https:// endpoints; nil
// without TLS keys.
func etcdTLS(f *config.Fleet) (*tls.Config, error) {
	if f.CAFile == "" && f.CertFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("fleet.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: fleet.ca_file %s: no PEM certificate", errdefs.ErrInvalid, f.CAFile)
		}
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("fleet.cert_file, fleet.key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// fleetUnchanged refuses a reload that changes [fleet]: the agent, its
// lease and the secret are the daemon's for its lifetime.
func fleetUnchanged(old, cfg *config.Config) error {
	if reflect.DeepEqual(old.Fleet, cfg.Fleet) {
		return nil
	}
	return fmt.Errorf("%w: [fleet] cannot change at a reload: restart the daemon (systemctl restart tenement; its tenants keep running)", errdefs.ErrInvalid)
}
