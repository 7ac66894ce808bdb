package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Property is one unit property as StartTransientUnit takes it. Value holds
// one of the concrete types below, or string, bool, uint32, uint64 or
// []string; the dbusapi package converts each to its D-Bus signature.
type Property struct {
	Name  string
	Value any
}

// Exec is one command of ExecStart or ExecStartPre (D-Bus a(sasb), or
// a(sasas) as ExecStartEx or ExecStartPreEx when Flags is set).
type Exec struct {
	Path string   // absolute path of the program
	Argv []string // argv, including argv[0]
	// Flags are ExecStartEx flags, e.g. "no-setuid" (the "!" prefix of a
	// unit file: systemd allocates the user, the process drops to it) or
	// "privileged" (the "+" prefix: no user, no sandbox, full
	// capabilities, but in the unit's cgroup).
	Flags []string
}

// Credential is one LoadCredential= entry (D-Bus a(ss)): systemd copies
// the file at Path, when the unit starts, into the unit's own credentials
// dir, where the app reads it as $CREDENTIALS_DIRECTORY/Name.
type Credential struct {
	Name, Path string
}

// LogFields is LogExtraFields (D-Bus aay): KEY=VALUE journal fields added
// to every entry of the unit.
type LogFields []string

// Listen is one listening address of a socket unit (D-Bus a(ss) "Listen").
type Listen struct {
	Type    string // "Stream"
	Address string // "127.0.0.1:20001"
}

// BindPath is one BindPaths/BindReadOnlyPaths entry (D-Bus a(ssbt)).
type BindPath struct {
	Source, Destination string
	IgnoreMissing       bool
	Recursive           bool
}

// TmpFS is one TemporaryFileSystem entry (D-Bus a(ss)).
type TmpFS struct {
	Path, Options string
}

// NameList is a list property with an allow/deny sense, D-Bus (bas):
// SystemCallFilter and RestrictAddressFamilies. Allow false is the "~"
// (deny) form of a unit file.
type NameList struct {
	Allow bool
	Names []string
}

// usec converts a duration to the microseconds systemd's *USec properties
// take.
func usec(d time.Duration) uint64 { return uint64(d / time.Microsecond) }

// Format renders properties one per line as "Name=value", in a notation
// close to a unit file: the golden files' (render_test.go), and what tests
// record of the properties set.
func Format(props []Property) string {
	var b strings.Builder
	for _, p := range props {
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(formatValue(p.Value))
		b.WriteByte('\n')
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case []string:
		return quoteAll(x)
	case LogFields:
		return quoteAll(x)
	case []Exec:
		return join(x, " ; ", func(e Exec) string {
			prefix := ""
			if len(e.Flags) > 0 {
				prefix = "{" + strings.Join(e.Flags, ",") + "}"
			}
			return prefix + e.Path + " argv=" + quoteAll(e.Argv)
		})
	case []Listen:
		return join(x, " ", func(l Listen) string { return l.Type + ":" + l.Address })
	case []BindPath:
		return join(x, " ", func(bp BindPath) string {
			s := bp.Source
			if bp.IgnoreMissing {
				s = "-" + s
			}
			s += ":" + bp.Destination
			if !bp.Recursive {
				s += ":norbind"
			}
			return s
		})
	case []Credential:
		return join(x, " ", func(c Credential) string { return c.Name + ":" + c.Path })
	case []TmpFS:
		return join(x, " ", func(t TmpFS) string { return t.Path + ":" + t.Options })
	case NameList:
		if x.Allow {
			return quoteAll(x.Names)
		}
		return "~" + quoteAll(x.Names)
	default:
		return fmt.Sprintf("%v", v)
	}
}

// join formats each of xs and joins them with sep.
func join[T any](xs []T, sep string, format func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = format(x)
	}
	return strings.Join(parts, sep)
}

// quoteAll joins words with spaces, quoting those that need it.
func quoteAll(ss []string) string {
	return join(ss, " ", func(s string) string {
		if s == "" || strings.ContainsAny(s, " \t\n\"'\\;") {
			return strconv.Quote(s)
		}
		return s
	})
}

// Get returns the value of the named property, or nil.
func Get(props []Property, name string) any {
	for _, p := range props {
		if p.Name == name {
			return p.Value
		}
	}
	return nil
}
