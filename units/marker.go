package units

import "strings"

// MarkerVar is the environment variable that marks a unit as one daemon's:
// its value is the daemon's marker (its data dir). A daemon adopts, stops
// and rebuilds records from only the units that carry its own marker, so
// two daemons on one host never touch each other's tenants.
const MarkerVar = "TENEMENT_DAEMON"

// ConfigPrintVar carries the fingerprint of the config a unit was rendered
// from (Spec.ConfigPrint).
const ConfigPrintVar = "TENEMENT_RUN_CONFIG"

// MarkerEnv returns the environment entry that carries marker.
func MarkerEnv(marker string) string { return MarkerVar + "=" + marker }

// MarkerOf returns the marker in a unit's environment, or "" without one.
func MarkerOf(env []string) string {
	v, _ := EnvValue(env, MarkerVar)
	return v
}

// HasMarker reports whether a unit's environment carries marker.
func HasMarker(env []string, marker string) bool {
	v, ok := EnvValue(env, MarkerVar)
	return ok && v == marker
}

// EnvValue returns the value of key in an environment list (KEY=VALUE
// entries, as systemd's Environment property has them); the last entry
// wins, as it does for systemd.
func EnvValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}
