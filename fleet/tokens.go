package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// PutToken stores a token's hash and scope fleet-wide, so that any host
// authenticates it; the secret never reaches etcd (t has no field for it).
// ErrConflict if the id exists, or the hash is known already.
func (a *Agent) PutToken(ctx context.Context, t store.Token) error {
	op := "put token " + t.ID
	if err := validTokenID(t.ID); err != nil {
		return fmt.Errorf("fleet: %s: %w", op, err)
	}
	if algo, hex, ok := strings.Cut(t.Hash, ":"); !ok || algo == "" || hex == "" {
		return fmt.Errorf("%w: fleet: %s: hash %q: want ALGORITHM:HEX", errdefs.ErrInvalid, op, t.Hash)
	}
	if t.Tenant != "" {
		if err := names.ValidateID(t.Tenant); err != nil {
			return fmt.Errorf("fleet: %s: tenant: %w", op, err)
		}
	}
	if _, err := a.TokenByHash(t.Hash); err == nil {
		return fmt.Errorf("%w: fleet: %s: a token with this hash exists", errdefs.ErrConflict, op)
	}
	key := a.lay.token(t.ID)
	val := encode(tokenValue{Hash: t.Hash, Tenant: t.Tenant, Description: t.Description, CreatedAt: t.CreatedAt})
	var resp *clientv3.TxnResponse
	if err := a.write(ctx, op, func(ctx context.Context) (err error) {
		resp, err = a.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, val)).Commit()
		return err
	}); err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("%w: fleet: %s: the id exists", errdefs.ErrConflict, op)
	}
	a.changed(a.cache.apply(kv{key: key, value: []byte(val), rev: resp.Header.Revision}))
	return nil
}

// DeleteToken removes a token fleet-wide; ErrNotFound if there is none.
func (a *Agent) DeleteToken(ctx context.Context, id string) error {
	op := "delete token " + id
	if err := validTokenID(id); err != nil {
		return fmt.Errorf("fleet: %s: %w", op, err)
	}
	return a.deleteKey(ctx, op, a.lay.token(id), "")
}

// Token returns a token by id, from the cache.
func (a *Agent) Token(id string) (store.Token, error) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	t, ok := a.cache.tokens[id]
	if !ok {
		return store.Token{}, fmt.Errorf("%w: token %s", errdefs.ErrNotFound, id)
	}
	return t, nil
}

// TokenByHash returns the token with this hash, from the cache (the
// caller compares the hash in constant time, as auth does).
func (a *Agent) TokenByHash(hash string) (store.Token, error) {
	a.cache.mu.RLock()
	defer a.cache.mu.RUnlock()
	if id, ok := a.cache.byHash[hash]; ok {
		return a.cache.tokens[id], nil
	}
	return store.Token{}, fmt.Errorf("%w: token", errdefs.ErrNotFound)
}

// Tokens returns every token, ordered by id, from the cache.
func (a *Agent) Tokens() []store.Token {
	a.cache.mu.RLock()
	out := make([]store.Token, 0, len(a.cache.tokens))
	for _, t := range a.cache.tokens {
		out = append(out, t)
	}
	a.cache.mu.RUnlock()
	slices.SortFunc(out, func(x, y store.Token) int { return strings.Compare(x.ID, y.ID) })
	return out
}
