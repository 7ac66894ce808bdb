// Package auth is tenement's API tokens: issuing them, verifying bearer
// tokens on requests, and throttling clients that present bad ones.
//
// A token is 256 random bits from crypto/rand, written as 43 characters of
// URL-safe base64. It is shown once, when it is issued; the store keeps only
// its SHA-256 hash. A fast hash is right here: the secret is random, so there
// is nothing to brute-force that a slow password hash would protect, and a
// slow hash on every request would be a CPU attack on a small server.
// Tokens are found by their hash and the stored hash is then compared in
// constant time.
//
// A token is either an admin token (no tenant) or a tenant token, scoped to
// one tenant id: it sees only the instances whose id is that tenant.
// Each token has a short public id, used to list, revoke and audit it.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

const (
	// SecretBytes is the size of a token's random secret: 256 bits.
	SecretBytes = 32
	// SecretLen is the length of a token as written: URL-safe base64
	// without padding.
	SecretLen = 43
	// hashPrefix names the hash in the stored form, so another hash can be
	// introduced later without ambiguity.
	hashPrefix = "sha256:"
	// idBytes is the size of a token's public id (12 hex characters).
	idBytes = 6
	// MaxDescription bounds a token's description.
	MaxDescription = 200
)

// Store is the token storage auth needs; *store.Store has it.
type Store interface {
	CreateToken(t store.Token) error
	TokenByHash(hash string) (store.Token, error)
}

var _ Store = (*store.Store)(nil)

// Hash returns the stored form of a secret: "sha256:" and the hex digest.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// Issue creates a token for tenant ("" for an admin token), stores its hash
// and returns the secret, which exists nowhere else: show it once.
func Issue(st Store, tenant, description string) (secret string, tok store.Token, err error) {
	if tenant != "" {
		if err := names.ValidateID(tenant); err != nil {
			return "", store.Token{}, fmt.Errorf("tenant %q: %w", tenant, err)
		}
	}
	if err := validDescription(description); err != nil {
		return "", store.Token{}, err
	}
	for range 3 { // an id or hash collision is astronomically unlikely; retry anyway
		secret, err = randomString(SecretBytes, base64.RawURLEncoding.EncodeToString)
		if err != nil {
			return "", store.Token{}, err
		}
		id, err := randomString(idBytes, hex.EncodeToString)
		if err != nil {
			return "", store.Token{}, err
		}
		tok = store.Token{ID: id, Hash: Hash(secret), Tenant: tenant, Description: description, CreatedAt: time.Now().UTC()}
		err = st.CreateToken(tok)
		if !errors.Is(err, errdefs.ErrConflict) {
			if err != nil {
				return "", store.Token{}, err
			}
			return secret, tok, nil
		}
	}
	return "", store.Token{}, fmt.Errorf("issue token: %w", err)
}

func validDescription(d string) error {
	if len(d) > MaxDescription {
		return fmt.Errorf("%w: description is longer than %d bytes", errdefs.ErrInvalid, MaxDescription)
	}
	if strings.IndexFunc(d, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: description contains control characters", errdefs.ErrInvalid)
	}
	return nil
}

func randomString(n int, encode func([]byte) string) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: random: %w", err)
	}
	return encode(b), nil
}

// wellFormed reports whether s looks like a token: SecretLen characters of
// URL-safe base64. Anything else is rejected without a store lookup.
func wellFormed(s string) bool {
	if len(s) != SecretLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ErrInvalidToken is the error of a token that is malformed, unknown or
// revoked. It does not say which.
var ErrInvalidToken = fmt.Errorf("%w: invalid token", errdefs.ErrUnauthorized)

// Verify returns the stored token a secret belongs to, or ErrInvalidToken.
// The lookup is by hash (a timing difference there says nothing about any
// secret); the stored hash is then compared with the computed one in
// constant time.
func Verify(st Store, secret string) (store.Token, error) {
	if !wellFormed(secret) {
		return store.Token{}, ErrInvalidToken
	}
	h := Hash(secret)
	tok, err := st.TokenByHash(h)
	if errors.Is(err, errdefs.ErrNotFound) {
		return store.Token{}, ErrInvalidToken
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("auth: look up token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(h)) != 1 {
		return store.Token{}, ErrInvalidToken
	}
	return tok, nil
}
