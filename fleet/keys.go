package fleet

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// The four kinds of keys under a cluster's prefix (see the package comment).
const (
	dirHosts      = "hosts/"
	dirPlacements = "placements/"
	dirTokens     = "tokens/"
	dirDomains    = "domains/"
)

// layout builds and parses the keys of one cluster: /tenement/<cluster>/...
type layout struct{ root string }

func newLayout(cluster string) layout { return layout{root: "/tenement/" + cluster + "/"} }

func (l layout) host(name string) string           { return l.root + dirHosts + name }
func (l layout) placement(n names.Instance) string { return l.root + dirPlacements + n.String() }
func (l layout) token(id string) string            { return l.root + dirTokens + id }
func (l layout) domain(d string) string            { return l.root + dirDomains + d }

// split returns the directory (one of the dir constants) and the name of
// a key of this cluster, or ok=false for a key that is none of these.
func (l layout) split(key string) (dir, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, l.root)
	if !ok {
		return "", "", false
	}
	for _, d := range []string{dirHosts, dirPlacements, dirTokens, dirDomains} {
		if name, ok := strings.CutPrefix(rest, d); ok && name != "" {
			return d, name, true
		}
	}
	return "", "", false
}

// hostValue is the value of a host's key, written under its lease.
type hostValue struct {
	Addr     string    `json:"addr"`
	Capacity int       `json:"capacity"`
	Placed   int       `json:"placed"`
	Awake    int       `json:"awake,omitempty"`
	Started  time.Time `json:"started"`
	// Draining: the host is being drained; no instance is placed on it
	// unless named.
	Draining bool `json:"draining,omitempty"`
}

// placementValue is the value of an instance's placement key.
type placementValue struct {
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// tokenValue is the value of a token's key: its hash and scope, never the
// secret.
type tokenValue struct {
	Hash        string    `json:"hash"`
	Tenant      string    `json:"tenant,omitempty"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// domainValue is the value of a custom domain's key.
type domainValue struct {
	Instance  string    `json:"instance"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // only plain structs are encoded
		panic(err)
	}
	return string(b)
}

func tokenFrom(id string, v tokenValue) store.Token {
	return store.Token{ID: id, Hash: v.Hash, Tenant: v.Tenant, Description: v.Description, CreatedAt: v.CreatedAt}
}

// ValidName reports whether s may name a host or a cluster: a DNS label
// (1–63 lowercase letters, digits and "-", not starting or ending with
// "-"), so that it is safe in a key and in a log line.
func ValidName(s string) error {
	if err := names.ValidateID(s); err != nil {
		return fmt.Errorf("%w: name %q: want 1–63 lowercase letters, digits and \"-\"", errdefs.ErrInvalid, s)
	}
	return nil
}

// validTokenID accepts the ids auth issues (hex) and other short safe
// names: they become one key segment.
func validTokenID(id string) error {
	if id == "" || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return fmt.Errorf("%w: token id %q: want 1–64 of a-z, 0-9, - and _", errdefs.ErrInvalid, id)
	}
	return nil
}

// NormalizeDomain returns a custom domain in the form every host stores
// and looks up, or an ErrInvalid error: names.Domain, the one validator of
// custom domains (IDNA to punycode, lowercase, no trailing dot, no IP
// literal or wildcard, at least two labels).
func NormalizeDomain(d string) (string, error) { return names.Domain(d) }
