// Package names is the one place that knows what an instance is called.
//
// An instance is written "service:id" wherever a user types it. Service names
// are 1–32 lowercase letters and digits starting with a letter (no "-": it
// separates service from id in unit names and means nesting in slice names).
// Ids are DNS labels: 1–63 lowercase letters, digits and "-", not starting or
// ending with "-". With these rules the mapping to the systemd unit
// "tenement@<service>-<id>.service" is unambiguous and reversible, and a name
// can never escape a directory, a slice or a DNS label.
//
// Every entry point (CLI, API, config, proxy, unit lists from systemd) parses
// names here once; everything downstream takes an Instance, never a string.
package names

import (
	"fmt"
	"strings"

	"github.com/tenement/tenement/errdefs"
)

const (
	// MaxServiceLen is the longest service name.
	MaxServiceLen = 32
	// MaxIDLen is the longest instance id (a DNS label).
	MaxIDLen = 63

	unitPrefix    = "tenement@"
	serviceSuffix = ".service"
	socketSuffix  = ".socket"
)

// Instance names one copy of a service. The zero value is not valid; obtain
// one from Parse, New or FromUnit.
type Instance struct {
	Service string
	ID      string
}

// Parse parses "service:id".
func Parse(s string) (Instance, error) {
	svc, id, ok := strings.Cut(s, ":")
	if !ok {
		return Instance{}, fmt.Errorf("%w: instance %q: want service:id", errdefs.ErrInvalid, s)
	}
	return newInstance(s, svc, id)
}

// New builds an Instance from its two parts, validating both.
func New(service, id string) (Instance, error) {
	return newInstance(service+":"+id, service, id)
}

func newInstance(whole, svc, id string) (Instance, error) {
	if err := checkService(svc); err != nil {
		return Instance{}, fmt.Errorf("%w: instance %q: service %w", errdefs.ErrInvalid, whole, err)
	}
	if err := checkID(id); err != nil {
		return Instance{}, fmt.Errorf("%w: instance %q: id %w", errdefs.ErrInvalid, whole, err)
	}
	return Instance{Service: svc, ID: id}, nil
}

// ValidateService reports whether s is a valid service name.
func ValidateService(s string) error {
	if err := checkService(s); err != nil {
		return fmt.Errorf("%w: service name %w", errdefs.ErrInvalid, err)
	}
	return nil
}

// ValidateID reports whether s is a valid instance id.
func ValidateID(s string) error {
	if err := checkID(s); err != nil {
		return fmt.Errorf("%w: instance id %w", errdefs.ErrInvalid, err)
	}
	return nil
}

// String returns "service:id".
func (n Instance) String() string { return n.Service + ":" + n.ID }

// Less orders instances by service, then id.
func (n Instance) Less(o Instance) bool {
	return n.Service < o.Service || (n.Service == o.Service && n.ID < o.ID)
}

// IsZero reports whether n is the zero Instance.
func (n Instance) IsZero() bool { return n.Service == "" && n.ID == "" }

// UnitInstance returns the template instance string, "<service>-<id>".
func (n Instance) UnitInstance() string { return n.Service + "-" + n.ID }

// Unit returns the service unit name, "tenement@<service>-<id>.service".
func (n Instance) Unit() string { return unitPrefix + n.UnitInstance() + serviceSuffix }

// SocketUnit returns the socket unit name, "tenement@<service>-<id>.socket".
func (n Instance) SocketUnit() string { return unitPrefix + n.UnitInstance() + socketSuffix }

// Slice returns the per-service slice, "tenement-<service>.slice", which
// systemd nests under tenement.slice.
func (n Instance) Slice() string { return ServiceSlice(n.Service) }

// ServiceSlice returns the slice of a service, "tenement-<service>.slice".
func ServiceSlice(service string) string { return "tenement-" + service + ".slice" }

// RootSlice is the slice every tenant runs under.
const RootSlice = "tenement.slice"

// UnitPrefix starts the name of every instance unit.
const UnitPrefix = unitPrefix

// UnitPattern matches every instance unit, for ListUnitsByPatterns.
const UnitPattern = unitPrefix + "*"

// FromUnit maps a unit name ("tenement@notes-alice.service" or ".socket")
// back to its Instance.
func FromUnit(unit string) (Instance, error) {
	rest, ok := strings.CutPrefix(unit, unitPrefix)
	if !ok {
		return Instance{}, fmt.Errorf("%w: unit %q is not a tenement instance unit", errdefs.ErrInvalid, unit)
	}
	if r, ok := strings.CutSuffix(rest, serviceSuffix); ok {
		rest = r
	} else if r, ok := strings.CutSuffix(rest, socketSuffix); ok {
		rest = r
	} else {
		return Instance{}, fmt.Errorf("%w: unit %q is not a .service or .socket unit", errdefs.ErrInvalid, unit)
	}
	svc, id, ok := strings.Cut(rest, "-")
	if !ok {
		return Instance{}, fmt.Errorf("%w: unit %q has no service-id separator", errdefs.ErrInvalid, unit)
	}
	n, err := newInstance(svc+":"+id, svc, id)
	if err != nil {
		return Instance{}, fmt.Errorf("unit %q: %w", unit, err)
	}
	return n, nil
}

// checkService returns why s is not a service name, or nil.
func checkService(s string) error {
	switch {
	case s == "":
		return errEmpty
	case len(s) > MaxServiceLen:
		return fmt.Errorf("%q is %d characters, more than %d", s, len(s), MaxServiceLen)
	case s[0] < 'a' || s[0] > 'z':
		return fmt.Errorf("%q must start with a lowercase letter", s)
	}
	for i := 0; i < len(s); i++ {
		if !isLower(s[i]) && !isDigit(s[i]) {
			return fmt.Errorf("%q: %s; only lowercase letters and digits are allowed", s, describe(s[i]))
		}
	}
	return nil
}

// checkID returns why s is not an instance id, or nil.
func checkID(s string) error {
	switch {
	case s == "":
		return errEmpty
	case len(s) > MaxIDLen:
		return fmt.Errorf("%q is %d characters, more than %d", s, len(s), MaxIDLen)
	case s[0] == '-' || s[len(s)-1] == '-':
		return fmt.Errorf("%q must not start or end with \"-\"", s)
	}
	for i := 0; i < len(s); i++ {
		if !isLower(s[i]) && !isDigit(s[i]) && s[i] != '-' {
			return fmt.Errorf("%q: %s; only lowercase letters, digits and \"-\" are allowed", s, describe(s[i]))
		}
	}
	return nil
}

var errEmpty = fmt.Errorf("is empty")

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// describe names an offending byte for an error message.
func describe(c byte) string {
	switch {
	case c >= 'A' && c <= 'Z':
		return fmt.Sprintf("uppercase %q is not allowed", c)
	case c == ' ':
		return "a space is not allowed"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("control character %#02x is not allowed", c)
	case c >= 0x80:
		return "non-ASCII characters are not allowed"
	default:
		return fmt.Sprintf("%q is not allowed", c)
	}
}
