package dbusapi

import (
	"strings"

	godbus "github.com/godbus/dbus/v5"
)

// Object paths of units.
//
// systemd names a unit's object /org/freedesktop/systemd1/unit/<label>,
// where the label is the unit name with every byte other than an ASCII
// letter, or a digit past the first byte, written "_xx" (two lowercase hex
// digits); the empty name is "_" (bus_label_escape in systemd's
// bus-label.c). Reading a label back, an "_" not followed by two hex
// digits stands for itself (bus_label_unescape_n). The mapping preserves
// prefixes: a name starts with p exactly when its label starts with p's
// label, so a signal's path can be filtered before it is decoded.

const unitPathPrefix = "/org/freedesktop/systemd1/unit/"

// busLabel escapes s into an object path element.
func busLabel(s string) string {
	if s == "" {
		return "_"
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || (i > 0 && isDigit(c)) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// unbusLabel reverses busLabel.
func unbusLabel(l string) string {
	if l == "_" {
		return ""
	}
	if strings.IndexByte(l, '_') < 0 {
		return l
	}
	b := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		if l[i] == '_' && i+2 < len(l) {
			hi, ok1 := unhex(l[i+1])
			lo, ok2 := unhex(l[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, l[i])
	}
	return string(b)
}

// unitName returns the name of the unit whose object path is p, if p is one.
func unitName(p godbus.ObjectPath) (string, bool) {
	l, ok := strings.CutPrefix(string(p), unitPathPrefix)
	if !ok || l == "" || strings.IndexByte(l, '/') >= 0 {
		return "", false
	}
	return unbusLabel(l), true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func unhex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
