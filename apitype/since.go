package apitype

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenement/tenement/errdefs"
)

// sinceLayouts are the absolute times ParseSince accepts, in local time
// unless they carry a zone.
var sinceLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseSince parses a --since value: a duration ago ("10m", "1h30m", also
// written "-10m" or "10m ago"), an absolute time ("2025-06-01 12:00:00",
// RFC 3339, "2025-06-01"), "@UNIXSECONDS", or "now", "today",
// "yesterday". An empty string is the zero time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return time.Time{}, nil
	case "now":
		return now, nil
	case "today":
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	case "yesterday":
		y, m, d := now.Date()
		return time.Date(y, m, d-1, 0, 0, 0, 0, now.Location()), nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		sec, err := strconv.ParseInt(rest, 10, 64)
		if err == nil && sec >= 0 {
			return time.Unix(sec, 0), nil
		}
	}
	ago := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "-"), "ago"))
	if d, err := time.ParseDuration(ago); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range sinceLayouts {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: since %q: want a duration ago (10m, 2h), a time (2006-01-02 15:04:05, RFC 3339), @UNIXSECONDS, today or yesterday", errdefs.ErrInvalid, s)
}
