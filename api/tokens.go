package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/auth"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/store"
)

// TokenStore keeps API tokens; *store.Store is one.
type TokenStore interface {
	auth.Store
	Tokens() ([]store.Token, error)
	Token(id string) (store.Token, error)
	RevokeToken(id string) (store.Token, error)
}

var _ TokenStore = (*store.Store)(nil)

// TokenAuth returns a Server.Authenticate that accepts the bearer tokens a
// verifies: admin tokens, and tenant tokens scoped to their tenant.
func TokenAuth(a *auth.Authenticator) func(r *http.Request) (Identity, error) {
	return func(r *http.Request) (Identity, error) {
		tok, err := a.Authenticate(r)
		if err != nil {
			return Identity{}, err
		}
		return TokenIdentity(tok), nil
	}
}

// TokenIdentity is the identity a stored token speaks for.
func TokenIdentity(tok store.Token) Identity {
	if tok.Tenant == "" {
		return Identity{Admin: true, Actor: "token:" + tok.ID, TokenID: tok.ID}
	}
	return Identity{Tenant: tok.Tenant, Actor: "tenant:" + tok.Tenant + "/token:" + tok.ID, TokenID: tok.ID}
}

func (s *Server) tokenRoutes() {
	s.handle("GET /api/tokens", s.listTokens)
	s.handle("POST /api/tokens", s.createToken)
	s.handle("DELETE /api/tokens/{id}", s.revokeToken)
}

func (s *Server) tokenStore(id Identity, what string) (TokenStore, error) {
	if err := id.requireAdmin(what); err != nil {
		return nil, err
	}
	if s.Tokens == nil {
		return nil, errNotServed("tokens")
	}
	return s.Tokens, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, id Identity) error {
	ts, err := s.tokenStore(id, "listing tokens")
	if err != nil {
		return err
	}
	list, err := ts.Tokens()
	if err != nil {
		return err
	}
	out := make([]apitype.TokenInfo, len(list))
	for i, t := range list {
		out[i] = tokenInfo(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, id Identity) error {
	ts, err := s.tokenStore(id, "creating tokens")
	if err != nil {
		return err
	}
	var req apitype.TokenRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	secret, tok, err := auth.Issue(ts, req.Tenant, req.Description)
	details := "admin"
	if req.Tenant != "" {
		details = "tenant=" + req.Tenant
	}
	s.audit(id, "token-create", "token:"+tok.ID, details, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.NewToken{TokenInfo: tokenInfo(tok), Token: secret})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, id Identity) error {
	ts, err := s.tokenStore(id, "revoking tokens")
	if err != nil {
		return err
	}
	tid := r.PathValue("id")
	if !validTokenID(tid) {
		return fmt.Errorf("%w: token id %q", errdefs.ErrInvalid, tid)
	}
	tok, err := ts.RevokeToken(tid)
	details := ""
	if err == nil {
		details = "admin"
		if tok.Tenant != "" {
			details = "tenant=" + tok.Tenant
		}
	}
	s.audit(id, "token-revoke", "token:"+tid, details, err)
	if err != nil {
		return err
	}
	if n := s.streams.revoke(tid); n > 0 {
		s.log.Info("ended the log streams of a revoked token", "token", tid, "streams", n)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stillValid returns errRevoked when the token of id has been revoked
// since it was checked.
func (s *Server) stillValid(id Identity) error {
	if id.TokenID == "" || s.Tokens == nil {
		return nil
	}
	_, err := s.Tokens.Token(id.TokenID)
	if errors.Is(err, errdefs.ErrNotFound) {
		return errRevoked
	}
	return err
}

// validTokenID reports whether s can be a token id: short lowercase hex
// (and letters, digits and "-" for ids made by other versions).
func validTokenID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
