package apitype

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Duration is a length of time on the wire: written as Go's notation
// ("1h30m0s"), read from that notation ("2h", "90s") or from a number of
// seconds. It is never negative.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d in Go's notation.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d in Go's notation.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q: want seconds (300) or a duration (\"5m\")", x)
		}
		if p < 0 {
			return fmt.Errorf("negative duration %q", x)
		}
		*d = Duration(p)
	case float64:
		if x < 0 || x > math.MaxInt64/float64(time.Second) {
			return fmt.Errorf("duration %v seconds: out of range", x)
		}
		*d = Duration(time.Duration(x * float64(time.Second)))
	default:
		return fmt.Errorf("invalid duration %s: want seconds (300) or a duration (\"5m\")", b)
	}
	return nil
}
