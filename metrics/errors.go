package metrics

import (
	"context"
	"errors"

	godbus "github.com/godbus/dbus/v5"

	"github.com/tenement/tenement/dbusapi"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
	"github.com/tenement/tenement/supervisor"
	"github.com/tenement/tenement/units"
)

// Systemd returns sd with its failed calls counted in
// tenement_dbus_errors_total. Give it to the supervisor in place of sd.
// Methods the supervisor may gain later pass through uncounted.
func (r *Registry) Systemd(sd supervisor.Systemd) supervisor.Systemd {
	return &countedSystemd{Systemd: sd, r: r}
}

type countedSystemd struct {
	supervisor.Systemd
	r *Registry
}

func (c *countedSystemd) count(op string, err error) error {
	if kind := dbusKind(err); kind != "" {
		c.r.dbusErrs.WithLabelValues(op, kind).Inc()
	}
	return err
}

// dbusKind classifies a failed systemd call: "method" (systemd or the bus
// answered with an error), "connection" (no connection to systemd),
// "timeout", or "other" (a job that did not end "done": the unit failed to
// start or stop). A call its caller cancelled is no error of systemd's:
// "".
func dbusKind(err error) string {
	var de godbus.Error
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return ""
	case errors.As(err, &de):
		return "method"
	case errors.Is(err, errdefs.ErrUnavailable):
		return "connection"
	case errors.Is(err, errdefs.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "other"
	}
}

func (c *countedSystemd) StartTransient(ctx context.Context, name string, props []units.Property, aux ...dbusapi.Aux) error {
	return c.count("start_transient", c.Systemd.StartTransient(ctx, name, props, aux...))
}

func (c *countedSystemd) Start(ctx context.Context, name string) error {
	return c.count("start", c.Systemd.Start(ctx, name))
}

func (c *countedSystemd) Stop(ctx context.Context, name string) error {
	return c.count("stop", c.Systemd.Stop(ctx, name))
}

func (c *countedSystemd) ResetFailed(ctx context.Context, name string) error {
	return c.count("reset_failed", c.Systemd.ResetFailed(ctx, name))
}

// Store returns st with its failed operations counted in
// tenement_store_errors_total. Give it to the supervisor in place of st.
func (r *Registry) Store(st supervisor.Store) supervisor.Store {
	return &countedStore{Store: st, r: r}
}

type countedStore struct {
	supervisor.Store
	r *Registry
}

// countStore counts err unless it is an answer rather than a failure: a
// record that is missing or exists already, or a change its caller
// refused.
func (r *Registry) countStore(op string, err error) error {
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrConflict) && !errors.Is(err, errdefs.ErrInvalid) {
		r.storeErrs.WithLabelValues(op).Inc()
	}
	return err
}

func (c *countedStore) Instances() ([]store.Instance, error) {
	ins, err := c.Store.Instances()
	return ins, c.r.countStore("instances", err)
}

func (c *countedStore) CreateInstance(in store.Instance) error {
	return c.r.countStore("create_instance", c.Store.CreateInstance(in))
}

func (c *countedStore) CreateInstances(ins []store.Instance) error {
	return c.r.countStore("create_instances", c.Store.CreateInstances(ins))
}

func (c *countedStore) UpdateInstance(n names.Instance, f func(*store.Instance) error) (store.Instance, error) {
	in, err := c.Store.UpdateInstance(n, f)
	return in, c.r.countStore("update_instance", err)
}

func (c *countedStore) UpdateInstances(ns []names.Instance, f func([]*store.Instance) error) error {
	return c.r.countStore("update_instances", c.Store.UpdateInstances(ns, f))
}

func (c *countedStore) DeleteInstance(n names.Instance) error {
	return c.r.countStore("delete_instance", c.Store.DeleteInstance(n))
}

// AuditStore is the audit log's part of the store; *store.Store is one (and
// so is the API's Auditor).
type AuditStore interface {
	Audit(e store.AuditEntry) (store.AuditEntry, error)
	AuditLog(limit int) ([]store.AuditEntry, error)
}

var _ AuditStore = (*store.Store)(nil)

// Auditor returns st with its failed operations counted in
// tenement_store_errors_total.
func (r *Registry) Auditor(st AuditStore) AuditStore { return countedAudit{st: st, r: r} }

type countedAudit struct {
	st AuditStore
	r  *Registry
}

func (c countedAudit) Audit(e store.AuditEntry) (store.AuditEntry, error) {
	e, err := c.st.Audit(e)
	return e, c.r.countStore("audit", err)
}

func (c countedAudit) AuditLog(limit int) ([]store.AuditEntry, error) {
	es, err := c.st.AuditLog(limit)
	return es, c.r.countStore("audit_log", err)
}
