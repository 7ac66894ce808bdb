package apitype

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Credential bounds.
const (
	// MaxCredentialSize bounds one credential's value: 1 MiB.
	MaxCredentialSize = 1 << 20
	// MaxCredentialName bounds a credential's name, in bytes.
	MaxCredentialName = 255
)

// Credential scopes: where a credential an instance receives comes from.
const (
	ScopeService  = "service"  // its service's, for every instance of it
	ScopeInstance = "instance" // its own; it wins over the service's
)

// ErrCredentialTooLarge is the error of a value over MaxCredentialSize.
var ErrCredentialTooLarge = fmt.Errorf("%w: a credential is at most %d bytes (1 MiB)", errdefs.ErrInvalid, MaxCredentialSize)

// CredentialTarget is what a credential belongs to: every instance of a
// service (ID empty) or one instance. It is the {target} of the
// /api/credentials routes, "service" or "service:id".
type CredentialTarget struct {
	Service string
	ID      string
}

// ParseCredentialTarget parses "service" or "service:id".
func ParseCredentialTarget(s string) (CredentialTarget, error) {
	if strings.Contains(s, ":") {
		n, err := names.Parse(s)
		if err != nil {
			return CredentialTarget{}, err
		}
		return CredentialTarget{Service: n.Service, ID: n.ID}, nil
	}
	if err := names.ValidateService(s); err != nil {
		return CredentialTarget{}, err
	}
	return CredentialTarget{Service: s}, nil
}

// Instance returns the instance of an instance target; ok is false for a
// service target.
func (t CredentialTarget) Instance() (n names.Instance, ok bool) {
	return names.Instance{Service: t.Service, ID: t.ID}, t.ID != ""
}

// String returns "service" or "service:id".
func (t CredentialTarget) String() string {
	if t.ID == "" {
		return t.Service
	}
	return t.Service + ":" + t.ID
}

// ValidateCredentialName checks a credential's name: 1–255 bytes of ASCII
// letters, digits, "_", "-" and ".", and not "." or "..". These are names
// systemd accepts for a credential and that are safe as one file name.
func ValidateCredentialName(name string) error {
	if name == "" || len(name) > MaxCredentialName {
		return fmt.Errorf("%w: credential name %q: want 1–%d bytes", errdefs.ErrInvalid, name, MaxCredentialName)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%w: credential name %q", errdefs.ErrInvalid, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%w: credential name %q: only letters, digits, _, - and . are allowed", errdefs.ErrInvalid, name)
		}
	}
	return nil
}

// Credential describes a credential, never its value (GET
// /api/credentials/{target}).
type Credential struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// Scope is ScopeService or ScopeInstance.
	Scope string `json:"scope"`
}

// CredentialResponse answers PUT /api/credentials/{target}/{name}: the
// credential as stored, never its value. It reaches the target's
// instances at their next start.
type CredentialResponse struct {
	Target string `json:"target"` // "service" or "service:id"
	Credential
}
