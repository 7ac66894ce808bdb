package apitype

import (
	"errors"
	"testing"
	"time"

	"github.com/tenement/tenement/errdefs"
)

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
