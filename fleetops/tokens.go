package fleetops

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/tenement/tenement/api"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/store"
)

// Tokens returns the API's tokens in the fleet: created and revoked in
// etcd (hash and scope only; the secret is shown once, as ever), looked up
// in the agent's cache, so that a token made on one host works on every
// host once the watch has brought it (milliseconds). While etcd is
// unreachable, creating or revoking one fails with one line, and every
// token keeps working. The tokens of local (those of this host from
// before it joined the fleet) stay valid here, and only here.
func (o *Ops) Tokens(local api.TokenStore) api.TokenStore {
	return &tokens{agent: o.agent, local: local}
}

type tokens struct {
	agent Agent
	local api.TokenStore
}

var _ api.TokenStore = (*tokens)(nil)

func (t *tokens) CreateToken(tok store.Token) error {
	return t.agent.PutToken(context.Background(), tok) // the agent bounds it (write_timeout)
}

func (t *tokens) TokenByHash(hash string) (store.Token, error) {
	tok, err := t.agent.TokenByHash(hash)
	if errors.Is(err, errdefs.ErrNotFound) {
		return t.local.TokenByHash(hash)
	}
	return tok, err
}

func (t *tokens) Token(id string) (store.Token, error) {
	tok, err := t.agent.Token(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return t.local.Token(id)
	}
	return tok, err
}

func (t *tokens) Tokens() ([]store.Token, error) {
	out := t.agent.Tokens()
	local, err := t.local.Tokens()
	if err != nil {
		return nil, err
	}
	for _, tok := range local {
		if _, err := t.agent.Token(tok.ID); err != nil {
			out = append(out, tok)
		}
	}
	slices.SortFunc(out, func(a, b store.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *tokens) RevokeToken(id string) (store.Token, error) {
	tok, err := t.agent.Token(id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return t.local.RevokeToken(id)
	}
	if err != nil {
		return store.Token{}, err
	}
	return tok, t.agent.DeleteToken(context.Background(), id)
}
