// Package journal reads the logs of tenement's instances from journald, by
// running `journalctl -o json` (go-systemd's sdjournal needs cgo; tenement
// builds with CGO_ENABLED=0).
//
// An entry belongs to an instance only by fields journald itself sets and a
// tenant cannot forge: _SYSTEMD_UNIT (the unit whose cgroup wrote it), or
// UNIT together with _PID=1 (systemd's own messages about the unit). The
// TENEMENT_SERVICE and TENEMENT_ID fields are convenient for operators'
// journalctl commands, but an app can write any field to the journal socket,
// so they are never used to decide who may read an entry.
package journal

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/tenement/tenement/names"
)

// Entry is one log line of an instance.
type Entry struct {
	Time     time.Time
	Instance names.Instance
	// Priority is the syslog priority, 0 (emerg) to 7 (debug); Level
	// names it.
	Priority int
	// Source is SourceApp for the instance's own output, SourceSystemd for
	// the service manager's messages about its unit (started, stopped,
	// failed).
	Source  string
	PID     int // the writer's, for SourceApp
	Message string

	cursor string
}

// Level returns the name of the entry's priority: "info", "err", ...
func (e Entry) Level() string { return levels[e.Priority] }

// Source values.
const (
	SourceApp     = "app"
	SourceSystemd = "systemd"
)

var levels = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// fields is one journal entry's fields, decoded to strings.
type fields map[string]string

// parseFields decodes a line of `journalctl -o json`. A field's value is a
// string, or an array of bytes when it is not valid printable UTF-8, or an
// array of either when the entry has the field more than once (the first
// value is kept), or null when it was too large to print (without --all).
func parseFields(line []byte) (fields, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return nil, fmt.Errorf("journal: decode entry: %w", err)
	}
	f := make(fields, len(raw))
	for k, v := range raw {
		s, err := fieldValue(v)
		if err != nil {
			return nil, fmt.Errorf("journal: field %s: %w", k, err)
		}
		f[k] = s
	}
	return f, nil
}

func fieldValue(v json.RawMessage) (string, error) {
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case '[':
		var bs []byte
		var nums []int
		if err := json.Unmarshal(v, &nums); err == nil {
			bs = make([]byte, len(nums))
			for i, n := range nums {
				if n < 0 || n > 255 {
					return "", fmt.Errorf("byte %d out of range", n)
				}
				bs[i] = byte(n)
			}
			return string(bs), nil
		}
		var many []json.RawMessage
		if err := json.Unmarshal(v, &many); err != nil {
			return "", err
		}
		if len(many) == 0 {
			return "", nil
		}
		return fieldValue(many[0])
	default:
		return "", fmt.Errorf("unexpected value %.20s", v)
	}
}

// unit returns the unit an entry belongs to by journald's trusted fields,
// and its source.
func (f fields) unit() (string, string) {
	if u := f["_SYSTEMD_UNIT"]; u != "" && u != "init.scope" {
		return u, SourceApp
	}
	if f["_PID"] == "1" && f["UNIT"] != "" {
		return f["UNIT"], SourceSystemd
	}
	return "", ""
}

// entry turns fields into an Entry if they belong to one of the allowed
// units (unit name → instance).
func (f fields) entry(allowed map[string]names.Instance) (Entry, bool) {
	u, source := f.unit()
	n, ok := allowed[u]
	if !ok {
		return Entry{}, false
	}
	e := Entry{
		Instance: n,
		Source:   source,
		Message:  f["MESSAGE"],
		Priority: 6,
		cursor:   f["__CURSOR"],
	}
	if us, err := strconv.ParseInt(f["__REALTIME_TIMESTAMP"], 10, 64); err == nil {
		e.Time = time.UnixMicro(us).UTC()
	}
	if p, err := strconv.Atoi(f["PRIORITY"]); err == nil && p >= 0 && p < len(levels) {
		e.Priority = p
	}
	if source == SourceApp {
		e.PID, _ = strconv.Atoi(f["_PID"])
	}
	return e, true
}
