package names

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Instance
		wantErr string // substring of the error; "" means success
	}{
		{name: "simple", in: "notes:alice", want: Instance{"notes", "alice"}},
		{name: "id with dashes", in: "notes:alice-smith", want: Instance{"notes", "alice-smith"}},
		{name: "digits", in: "api2:42", want: Instance{"api2", "42"}},
		{name: "max lengths", in: strings.Repeat("s", 32) + ":" + strings.Repeat("i", 63),
			want: Instance{strings.Repeat("s", 32), strings.Repeat("i", 63)}},
		{name: "no colon", in: "notes", wantErr: "want service:id"},
		{name: "empty", in: "", wantErr: "want service:id"},
		{name: "empty service", in: ":alice", wantErr: "service is empty"},
		{name: "empty id", in: "notes:", wantErr: "id is empty"},
		{name: "dot dot service", in: "../x:y", wantErr: "must start with a lowercase letter"},
		{name: "dot in service", in: "no.tes:x", wantErr: `'.' is not allowed`},
		{name: "dot in id", in: "notes:a.b", wantErr: `'.' is not allowed`},
		{name: "slash in id", in: "notes:a/b", wantErr: `'/' is not allowed`},
		{name: "dot dot id", in: "notes:..", wantErr: `'.' is not allowed`},
		{name: "uppercase service", in: "Notes:alice", wantErr: "must start with a lowercase letter"},
		{name: "uppercase id", in: "notes:Alice", wantErr: "uppercase 'A'"},
		{name: "dash in service", in: "my-app:x", wantErr: `'-' is not allowed`},
		{name: "service starts with digit", in: "1notes:x", wantErr: "must start with a lowercase letter"},
		{name: "space", in: "notes:al ice", wantErr: "a space is not allowed"},
		{name: "newline", in: "notes:al\nice", wantErr: "control character"},
		{name: "nul", in: "notes:al\x00ice", wantErr: "control character"},
		{name: "unicode", in: "notes:alïce", wantErr: "non-ASCII"},
		{name: "second colon", in: "notes:a:b", wantErr: `':' is not allowed`},
		{name: "leading dash id", in: "notes:-a", wantErr: "must not start or end"},
		{name: "trailing dash id", in: "notes:a-", wantErr: "must not start or end"},
		{name: "long service", in: strings.Repeat("s", 33) + ":x", wantErr: "more than 32"},
		{name: "long id", in: "s:" + strings.Repeat("i", 64), wantErr: "more than 63"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("error %v is not ErrInvalid", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q spans lines", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnitNames(t *testing.T) {
	tests := []struct {
		in                 string
		unit, socket, slic string
	}{
		{"notes:alice", "tenement@notes-alice.service", "tenement@notes-alice.socket", "tenement-notes.slice"},
		{"notes:alice-smith", "tenement@notes-alice-smith.service", "tenement@notes-alice-smith.socket", "tenement-notes.slice"},
		{"a:b", "tenement@a-b.service", "tenement@a-b.socket", "tenement-a.slice"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Unit(); got != tt.unit {
			t.Errorf("%s.Unit() = %q, want %q", tt.in, got, tt.unit)
		}
		if got := n.SocketUnit(); got != tt.socket {
			t.Errorf("%s.SocketUnit() = %q, want %q", tt.in, got, tt.socket)
		}
		if got := n.Slice(); got != tt.slic {
			t.Errorf("%s.Slice() = %q, want %q", tt.in, got, tt.slic)
		}
		for _, u := range []string{tt.unit, tt.socket} {
			back, err := FromUnit(u)
			if err != nil || back != n {
				t.Errorf("FromUnit(%q) = %v, %v; want %v", u, back, err, n)
			}
		}
	}
}

func TestFromUnitRejects(t *testing.T) {
	for _, u := range []string{
		"", "tenement.service", "tenement@.service", "tenement@notes.service",
		"tenement@notes-.service", "tenement@-alice.service", "tenement@Notes-alice.service",
		"tenement@notes-alice.timer", "other@notes-alice.service", "tenement@notes-a.b.service",
		"tenement@notes-alice", "tenement@notes-alice.service.service",
	} {
		if n, err := FromUnit(u); err == nil {
			t.Errorf("FromUnit(%q) = %v, want error", u, n)
		}
	}
}

// FuzzParse checks that whatever Parse accepts is safe as a path component,
// DNS label and unit name, and survives the unit-name round trip.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"notes:alice", "a:b-c", "../x:y", "Notes:alice", "my-app:x", "x:" + strings.Repeat("a", 63), "n:a\x00b", ":", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if n != (Instance{}) {
				t.Fatalf("Parse(%q) returned %v with error", s, n)
			}
			return
		}
		if n.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, n.String())
		}
		for _, part := range []string{n.Service, n.ID} {
			if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "/.:\x00 \n") || strings.ToLower(part) != part {
				t.Fatalf("Parse(%q) accepted unsafe part %q", s, part)
			}
		}
		if strings.Contains(n.Service, "-") {
			t.Fatalf("Parse(%q) accepted a service with '-'", s)
		}
		for _, u := range []string{n.Unit(), n.SocketUnit()} {
			back, err := FromUnit(u)
			if err != nil || back != n {
				t.Fatalf("round trip %q -> %q -> %v, %v", s, u, back, err)
			}
		}
		again, err := New(n.Service, n.ID)
		if err != nil || again != n {
			t.Fatalf("New(%q, %q) = %v, %v", n.Service, n.ID, again, err)
		}
	})
}

// FuzzFromUnit checks that FromUnit never accepts a unit that does not map
// back to itself.
func FuzzFromUnit(f *testing.F) {
	for _, s := range []string{"tenement@notes-alice.service", "tenement@a-b-c.socket", "tenement@x.service", "tenement@-.service"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		n, err := FromUnit(u)
		if err != nil {
			return
		}
		if n.Unit() != u && n.SocketUnit() != u {
			t.Fatalf("FromUnit(%q) = %v, which maps to %q", u, n, n.Unit())
		}
	})
}
