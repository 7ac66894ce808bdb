package apitype

import (
	"errors"
	"testing"

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
