package api

import (
	"context"
	"fmt"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Identity is who makes a request: an admin (root or the tenement group on
// the local socket, or an admin token), or a tenant token scoped to one
// tenant id.
type Identity struct {
	Admin  bool
	Tenant string // the tenant id a tenant token is scoped to
	// Actor names the caller in the audit log: "uid:0", "token:<id>".
	// It is also the key of the caller's limits (log streams, writes).
	Actor string
	// TokenID is the id of the token the request carried; empty on the
	// local socket. Revoking the token ends the caller's log streams.
	TokenID string
	// Fleet: another host of the fleet (FleetAuth), an admin whose
	// changing calls are not limited (a drain makes many).
	Fleet bool
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity of a request's context.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// CanRead reports whether the identity may read instance n: admins read
// everything, a tenant token reads the instances whose id is its tenant.
func (id Identity) CanRead(n names.Instance) bool {
	return id.Admin || (id.Tenant != "" && n.ID == id.Tenant)
}

// requireAdmin returns an ErrForbidden error unless the identity is admin.
func (id Identity) requireAdmin(what string) error {
	if id.Admin {
		return nil
	}
	return fmt.Errorf("%w: %s needs an admin token", errdefs.ErrForbidden, what)
}

// requireRead returns an error unless the identity may read n. A tenant
// asking about another tenant's instance gets 404, not 403: it must not
// learn which instances exist.
func (id Identity) requireRead(n names.Instance) error {
	if id.CanRead(n) {
		return nil
	}
	if id.Tenant != "" {
		return fmt.Errorf("%w: instance %s", errdefs.ErrNotFound, n)
	}
	return fmt.Errorf("%w: not allowed", errdefs.ErrForbidden)
}
