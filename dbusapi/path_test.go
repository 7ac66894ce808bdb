package dbusapi

import (
	"testing"

	godbus "github.com/godbus/dbus/v5"
)

func TestBusLabel(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"tenement@notes-alice.service", "tenement_40notes_2dalice_2eservice"},
		{"tenement-notes.slice", "tenement_2dnotes_2eslice"},
		{"", "_"},
		{"0abc", "_30abc"}, // a leading digit is escaped, later ones are not
		{"a0", "a0"},
		{"a_b", "a_5fb"}, // "_" itself is escaped, so labels read back unambiguously
		{"\xc3\xa9t\xc3\xa9", "_c3_a9t_c3_a9"},
		{"AZaz", "AZaz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := busLabel(tt.name); got != tt.want {
				t.Errorf("busLabel(%q) = %q, want %q", tt.name, got, tt.want)
			}
			if back := unbusLabel(tt.want); back != tt.name {
				t.Errorf("unbusLabel(%q) = %q, want %q", tt.want, back, tt.name)
			}
			if got, ok := unitName(unitPath(tt.name)); !ok || got != tt.name {
				t.Errorf("unitName(unitPath(%q)) = %q, %v", tt.name, got, ok)
			}
		})
	}
}

func TestUnbusLabelLiteral(t *testing.T) {
	// An "_" without two hex digits after it stands for itself, as in
	// systemd's bus_label_unescape_n; hex digits may be upper case.
	tests := []struct{ label, want string }{
		{"a_", "a_"},
		{"a_4", "a_4"},
		{"a_zz", "a_zz"},
		{"a_4g", "a_4g"},
		{"_2D_2E", "-."},
		{"x_40y", "x@y"},
	}
	for _, tt := range tests {
		if got := unbusLabel(tt.label); got != tt.want {
			t.Errorf("unbusLabel(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}

func TestUnitName(t *testing.T) {
	tests := []struct {
		path   string
		want   string
		wantOK bool
	}{
		{"/org/freedesktop/systemd1/unit/tenement_40a_2db_2eservice", "tenement@a-b.service", true},
		{"/org/freedesktop/systemd1/unit/_", "", true},
		{"/org/freedesktop/systemd1/unit/", "", false},
		{"/org/freedesktop/systemd1/unit/a/b", "", false},
		{"/org/freedesktop/systemd1/job/42", "", false},
		{"/org/freedesktop/systemd1", "", false},
	}
	for _, tt := range tests {
		got, ok := unitName(godbus.ObjectPath(tt.path))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("unitName(%s) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.wantOK)
		}
	}
}

// The escaping preserves prefixes, which the decoder relies on to skip
// other units' signals before decoding them.
func TestBusLabelPreservesPrefixes(t *testing.T) {
	names := []string{"tenement@a-b.service", "tenement@", "tenement-x.slice", "tenemenT@x", "0tenement@x", "t", ""}
	prefixes := []string{"tenement@", "tenement", "t", "0t"}
	for _, n := range names {
		for _, p := range prefixes {
			byName := len(n) >= len(p) && n[:len(p)] == p
			ln, lp := busLabel(n), busLabel(p)
			byLabel := n != "" && len(ln) >= len(lp) && ln[:len(lp)] == lp
			if byName != byLabel {
				t.Errorf("name %q prefix %q: by name %v, by label %v (%q, %q)", n, p, byName, byLabel, ln, lp)
			}
		}
	}
}
