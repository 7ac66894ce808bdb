package config

import (
	"fmt"
	"time"
)

// Duration is a length of time written either as an integer number of
// seconds (compatible with the original: idle_timeout = 300) or as a Go
// duration string ("500ms", "5m", "1h30m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return fmt.Errorf("negative duration %d", x)
		}
		if x > int64(100*365*24*time.Hour/time.Second) {
			return fmt.Errorf("duration %d seconds is too long", x)
		}
		*d = Duration(time.Duration(x) * time.Second)
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q: want seconds (300) or a duration (\"5m\", \"500ms\")", x)
		}
		if p < 0 {
			return fmt.Errorf("negative duration %q", x)
		}
		*d = Duration(p)
	default:
		return fmt.Errorf("invalid duration %v (%T): want seconds (300) or a duration (\"5m\")", v, v)
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler, for `ten config show`.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String returns the duration in Go's notation.
func (d Duration) String() string { return time.Duration(d).String() }
