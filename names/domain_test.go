package names

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestDomain(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string // substring of the error; "" means success
	}{
		{name: "plain", in: "alice.example", want: "alice.example"},
		{name: "uppercase and trailing dot", in: "Notes.Alice-Corp.COM.", want: "notes.alice-corp.com"},
		{name: "unicode to punycode", in: "bücher.example", want: "xn--bcher-kva.example"},
		{name: "unicode uppercase", in: "BÜCHER.Example", want: "xn--bcher-kva.example"},
		{name: "punycode kept", in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{name: "digits in labels", in: "1password.example.com", want: "1password.example.com"},
		{name: "longest", in: strings.Repeat(strings.Repeat("a", 62)+".", 4) + "c", want: strings.Repeat(strings.Repeat("a", 62)+".", 4) + "c"},
		{name: "empty", in: "", wantErr: "is empty"},
		{name: "dot", in: ".", wantErr: "is empty"},
		{name: "one label", in: "localhost", wantErr: "at least two labels"},
		{name: "wildcard", in: "*.alice.example", wantErr: "wildcards are not allowed"},
		{name: "wildcard inside", in: "a*.example", wantErr: "wildcards are not allowed"},
		{name: "ipv4", in: "192.0.2.1", wantErr: "is an IP address"},
		{name: "ipv6", in: "2001:db8::1", wantErr: "is an IP address"},
		{name: "ipv6 brackets", in: "[::1]", wantErr: "is an IP address"},
		{name: "short ipv4", in: "127.1", wantErr: "ends in a number"},
		{name: "hex ipv4", in: "0x7f.0x1", wantErr: "ends in a number"},
		{name: "numeric tld", in: "alice.123", wantErr: "ends in a number"},
		{name: "port", in: "alice.example:443", wantErr: "without scheme, port or path"},
		{name: "url", in: "https://alice.example", wantErr: "without scheme, port or path"},
		{name: "path", in: "alice.example/x", wantErr: "without scheme, port or path"},
		{name: "userinfo", in: "a@alice.example", wantErr: "without scheme, port or path"},
		{name: "empty label", in: "a..example", wantErr: "1–63 characters"},
		{name: "two trailing dots", in: "alice.example..", wantErr: "1–63 characters"},
		{name: "leading dash", in: "-a.example", wantErr: "not a valid DNS name"},
		{name: "trailing dash", in: "a-.example", wantErr: "not a valid DNS name"},
		{name: "space", in: "al ice.example", wantErr: "not a valid DNS name"},
		{name: "underscore", in: "_dmarc.example", wantErr: "not a valid DNS name"},
		{name: "newline", in: "alice.example\nx", wantErr: "not a valid DNS name"},
		{name: "nul", in: "alice\x00.example", wantErr: "not a valid DNS name"},
		{name: "invalid utf-8", in: "\xc4.a", wantErr: "not valid UTF-8"},
		{name: "bad punycode", in: "xn--a.example", wantErr: "not a valid DNS name"},
		{name: "long label", in: strings.Repeat("a", 64) + ".example", wantErr: "1–63 characters"},
		{name: "too long", in: strings.Repeat("abcdefg.", 32) + "com", wantErr: "more than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Domain(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Domain(%q) = %q, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("Domain(%q): %q, want one line of kind ErrInvalid containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Domain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzDomain: what Domain accepts is stored and looked up as it is, so it
// must be its own normal form, plain lowercase ASCII DNS, and never an
// address.
func FuzzDomain(f *testing.F) {
	for _, s := range []string{"alice.example", "Bücher.Example.", "xn--bcher-kva.example", "127.1", "*.a.b", "a..b", "[::1]", "a.b:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Domain(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Domain(%q): %q", s, err)
			}
			return
		}
		if again, err := Domain(d); err != nil || again != d {
			t.Fatalf("Domain(%q) = %q, but Domain(%q) = %q, %v", s, d, d, again, err)
		}
		if len(d) > MaxDomainLen || isIP(d) || !strings.Contains(d, ".") {
			t.Fatalf("Domain(%q) = %q", s, d)
		}
		for i := 0; i < len(d); i++ {
			if c := d[i]; !isLower(c) && !isDigit(c) && c != '-' && c != '.' {
				t.Fatalf("Domain(%q) = %q holds %q", s, d, c)
			}
		}
	})
}
