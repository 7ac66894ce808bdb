package apitype

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
)

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want State
	}{
		{"asleep", "asleep", StateAsleep},
		{"failed", "failed", StateFailed},
		{"empty", "", ""},
		{"capitals", "Running", ""},
		{"unknown", "sleeping", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseState(tc.in)
			if got != tc.want || (tc.want == "") != errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("ParseState(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	_, err := ParseState("x")
	if want := `invalid argument: state "x": want asleep, starting, running, stopping, failed`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

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

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"10m", now.Add(-10 * time.Minute)},
		{"-2h", now.Add(-2 * time.Hour)},
		{"90s ago", now.Add(-90 * time.Second)},
		{"2025-05-31 08:30:00", time.Date(2025, 5, 31, 8, 30, 0, 0, time.UTC)},
		{"2025-05-31", time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC)},
		{"2025-05-31T08:30:00+02:00", time.Date(2025, 5, 31, 6, 30, 0, 0, time.UTC)},
		{"@1700000000", time.Unix(1700000000, 0)},
		{"today", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		{"yesterday", time.Date(2025, 5, 31, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := ParseSince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"soon", "--until=x", "10 parsecs", "@-5", "2025-13-01"} {
		if _, err := ParseSince(bad, now); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseSince(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
