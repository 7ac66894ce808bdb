package apitype

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenement/tenement/errdefs"
)

func TestValidateCredentialName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"DB_PASSWORD", true}, {"stripe.key", true}, {"tls-cert.pem", true}, {".env", true}, {"a", true},
		{strings.Repeat("x", 255), true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"../x", false}, {"a b", false},
		{"pässword", false}, {"x\n", false}, {"a:b", false}, {".tmp#1", false}, {strings.Repeat("x", 256), false},
	} {
		err := ValidateCredentialName(tc.name)
		if (err == nil) != tc.want || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("ValidateCredentialName(%q) = %v, want ok=%v", tc.name, err, tc.want)
		}
	}
}

func TestParseCredentialTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want CredentialTarget
		ok   bool
	}{
		{"notes", CredentialTarget{Service: "notes"}, true},
		{"notes:alice", CredentialTarget{Service: "notes", ID: "alice"}, true},
		{"notes:", CredentialTarget{}, false}, {"Notes", CredentialTarget{}, false}, {"../x", CredentialTarget{}, false}, {"notes:a/b", CredentialTarget{}, false},
	} {
		got, err := ParseCredentialTarget(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCredentialTarget(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
