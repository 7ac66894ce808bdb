package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tenement/tenement/errdefs"
)

var bucketTokenHashes = []byte("token_hashes")

// Token is a stored API token. The secret itself is never stored: only its
// hash (the auth package decides which hash; a fast one is right for
// 256-bit random secrets).
type Token struct {
	ID          string    `json:"id"`
	Hash        string    `json:"hash"`
	Tenant      string    `json:"tenant,omitempty"` // "" for an admin token
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateToken stores a token; ErrConflict if its id or hash exists.
func (s *Store) CreateToken(t Token) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		hashes, err := tx.CreateBucketIfNotExists(bucketTokenHashes)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketTokens).Get([]byte(t.ID)) != nil || hashes.Get([]byte(t.Hash)) != nil {
			return fmt.Errorf("%w: token %s exists", errdefs.ErrConflict, t.ID)
		}
		if err := hashes.Put([]byte(t.Hash), []byte(t.ID)); err != nil {
			return err
		}
		return put(tx, bucketTokens, []byte(t.ID), t)
	})
}

// TokenByHash returns the token with the given hash, or ErrNotFound.
func (s *Store) TokenByHash(hash string) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		hashes := tx.Bucket(bucketTokenHashes)
		if hashes == nil {
			return fmt.Errorf("%w: token", errdefs.ErrNotFound)
		}
		id := hashes.Get([]byte(hash))
		if id == nil {
			return fmt.Errorf("%w: token", errdefs.ErrNotFound)
		}
		return get(tx, bucketTokens, id, &t, "token")
	})
	return t, err
}

// Token returns the token with the given id, or ErrNotFound.
func (s *Store) Token(id string) (Token, error) {
	var t Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return get(tx, bucketTokens, []byte(id), &t, "token "+id)
	})
	return t, err
}

// Tokens returns every token, ordered by id.
func (s *Store) Tokens() ([]Token, error) { return all[Token](s.db, bucketTokens, "token") }

// RevokeToken deletes a token; ErrNotFound if unknown.
func (s *Store) RevokeToken(id string) (Token, error) {
	var t Token
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := get(tx, bucketTokens, []byte(id), &t, "token "+id); err != nil {
			return err
		}
		if hashes := tx.Bucket(bucketTokenHashes); hashes != nil {
			if err := hashes.Delete([]byte(t.Hash)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketTokens).Delete([]byte(id))
	})
	return t, err
}
