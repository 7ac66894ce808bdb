package apitype

import "time"

// LogEntry is one log line of an instance (GET /api/logs, and each event
// of GET /api/logs/stream).
type LogEntry struct {
	Time time.Time `json:"time"`
	// Timestamp is Time in milliseconds since the epoch (the original's
	// field).
	Timestamp int64 `json:"timestamp"`
	// Instance is "service:id"; Process and InstanceID are its parts, under
	// the original's names.
	Instance   string `json:"instance"`
	Process    string `json:"process"`
	InstanceID string `json:"instance_id"`
	// Level is the syslog priority's name ("info", "err", ...); Priority is
	// its number, 0–7.
	Level    string `json:"level"`
	Priority int    `json:"priority"`
	// Source is LogSourceApp for the instance's own output, LogSourceSystemd
	// for the service manager's messages about its unit.
	Source  string `json:"source"`
	PID     int    `json:"pid,omitempty"`
	Message string `json:"message"`
}

// LogEntry.Source values.
const (
	LogSourceApp     = "app"
	LogSourceSystemd = "systemd"
)
