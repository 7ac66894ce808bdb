// Package credentials keeps the secrets tenement hands to instances as
// systemd credentials: one file per secret under settings.credentials_dir,
//
//	{credentials_dir}/{service}/NAME        every instance of the service
//	{credentials_dir}/{service}/{id}/NAME   one instance (wins over the service's)
//
// which units load with LoadCredential=, so an app reads its secret from
// $CREDENTIALS_DIRECTORY/NAME and no other unit, user or D-Bus caller can.
// Unlike a service's env, which is a unit's Environment= (readable by any
// local user over D-Bus and in /run/systemd/transient), nothing here is
// ever in a unit's properties.
//
// Files are 0600 and directories 0700, owned by root when the daemon runs
// as root. A value is written to a temporary file in the same directory,
// synced, and renamed over the old one: a unit starting meanwhile loads the
// old value or the new one, never half of one. Every path is opened inside
// the credentials directory (os.Root), so no symlink can lead a write
// outside it. A changed credential reaches an instance at its next start.
package credentials

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

const (
	// MaxSize bounds one credential's value: 1 MiB.
	MaxSize = 1 << 20
	// MaxNameLen bounds a credential's name, in bytes.
	MaxNameLen = 255
)

// Scopes of a credential file.
const (
	ScopeService  = "service"
	ScopeInstance = "instance"
)

// Target is what a credential belongs to: every instance of a service (ID
// empty) or one instance.
type Target struct {
	Service string
	ID      string
}

// ParseTarget parses "service" or "service:id".
func ParseTarget(s string) (Target, error) {
	if strings.Contains(s, ":") {
		n, err := names.Parse(s)
		if err != nil {
			return Target{}, err
		}
		return Target{Service: n.Service, ID: n.ID}, nil
	}
	if err := names.ValidateService(s); err != nil {
		return Target{}, err
	}
	return Target{Service: s}, nil
}

// ForInstance is the target of one instance.
func ForInstance(n names.Instance) Target { return Target{Service: n.Service, ID: n.ID} }

// Instance returns the instance of an instance target; ok is false for a
// service target.
func (t Target) Instance() (n names.Instance, ok bool) {
	return names.Instance{Service: t.Service, ID: t.ID}, t.ID != ""
}

// String returns "service" or "service:id".
func (t Target) String() string {
	if t.ID == "" {
		return t.Service
	}
	return t.Service + ":" + t.ID
}

// dir returns the target's directory, relative to the credentials dir.
func (t Target) dir() string {
	if t.ID == "" {
		return t.Service
	}
	return t.Service + "/" + t.ID
}

// ValidateName checks a credential's name: 1–255 bytes of ASCII letters,
// digits, "_", "-" and ".", and not "." or "..". These are names systemd
// accepts for a credential and that are safe as one file name.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: credential name %q: want 1–%d bytes", errdefs.ErrInvalid, name, MaxNameLen)
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

// Info describes a credential, never its value.
type Info struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// Scope is where the file is: "service" (every instance of the
	// service) or "instance" (this one; it wins over the service's).
	Scope string `json:"scope"`
}

// ErrTooLarge is the error of a value over MaxSize.
var ErrTooLarge = fmt.Errorf("%w: a credential is at most %d bytes (1 MiB)", errdefs.ErrInvalid, MaxSize)
