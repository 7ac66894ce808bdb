package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Wake modes (Service.Wake).
const (
	WakeHold       = "hold"
	WakePage       = "page"
	WakeBackground = "background"
)

// Idle actions (Service.IdleAction).
const (
	IdleStop     = "stop"
	IdleThrottle = "throttle"
)

// Window is one keep_awake window: on the days it names, from Start to End
// (minutes after midnight; End may be past 24:00 for a window that runs
// into the next day).
type Window struct {
	Days       [7]bool // by time.Weekday
	Start, End int     // minutes after midnight
	Text       string
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow parses "mon-fri 08:00-18:00", "sat,sun 10:00-12:00",
// "daily 22:00-06:00" (a window may run past midnight).
func ParseWindow(text string) (Window, error) {
	w := Window{Text: text}
	days, hours, ok := strings.Cut(strings.TrimSpace(strings.ToLower(text)), " ")
	if !ok {
		return w, fmt.Errorf("%q: want DAYS HH:MM-HH:MM, e.g. \"mon-fri 08:00-18:00\"", text)
	}
	if err := parseDays(days, &w.Days); err != nil {
		return w, fmt.Errorf("%q: %w", text, err)
	}
	from, to, ok := strings.Cut(strings.TrimSpace(hours), "-")
	var err error
	if ok {
		if w.Start, err = parseClock(from); err == nil {
			w.End, err = parseClock(to)
		}
	}
	if !ok || err != nil {
		return w, fmt.Errorf("%q: want hours HH:MM-HH:MM, e.g. 08:00-18:00", text)
	}
	if w.End == w.Start {
		return w, fmt.Errorf("%q: the window is empty", text)
	}
	if w.End < w.Start {
		w.End += 24 * 60 // runs into the next day
	}
	return w, nil
}

func parseDays(s string, days *[7]bool) error {
	if s == "daily" || s == "*" {
		for i := range days {
			days[i] = true
		}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := dayNames[a]
		to, ok2 := dayNames[b]
		if !isRange {
			to, ok2 = from, ok1
		}
		if !ok1 || !ok2 {
			return fmt.Errorf("days %q: want daily, a day (mon ... sun), a range (mon-fri) or a list (sat,sun)", s)
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// KeepAwakeAt reports whether t falls in one of the service's keep_awake
// windows, and until when the window that holds it lasts.
func (s *Service) KeepAwakeAt(t time.Time) (bool, time.Time) {
	var until time.Time
	for _, w := range s.windows {
		if end, ok := w.holds(t); ok && end.After(until) {
			until = end
		}
	}
	return !until.IsZero(), until
}

// holds reports whether the window holds t, and when that run of it ends.
func (w Window) holds(t time.Time) (time.Time, bool) {
	for back := 0; back <= 1; back++ { // today's run, or yesterday's past midnight
		day := time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, t.Location())
		if !w.Days[day.Weekday()] {
			continue
		}
		start := day.Add(time.Duration(w.Start) * time.Minute)
		end := day.Add(time.Duration(w.End) * time.Minute)
		if !t.Before(start) && t.Before(end) {
			return end, true
		}
	}
	return time.Time{}, false
}

// NextKeepAwake returns the start of the next keep_awake window after t
// (within a week), or the zero time without windows.
func (s *Service) NextKeepAwake(t time.Time) time.Time {
	var next time.Time
	for _, w := range s.windows {
		for ahead := 0; ahead <= 7; ahead++ {
			day := time.Date(t.Year(), t.Month(), t.Day()+ahead, 0, 0, 0, 0, t.Location())
			start := day.Add(time.Duration(w.Start) * time.Minute)
			if w.Days[day.Weekday()] && start.After(t) {
				if next.IsZero() || start.Before(next) {
					next = start
				}
				break
			}
		}
	}
	return next
}

// IsProbe reports whether path is one of probe_paths.
func (s *Service) IsProbe(path string) bool { return s.probeSet[path] }

// NoWake reports whether a User-Agent matches no_wake_user_agents.
func (s *Service) NoWake(userAgent string) bool {
	for _, re := range s.noWake {
		if re.MatchString(userAgent) {
			return true
		}
	}
	return false
}

// Timing reports whether woken requests carry Server-Timing.
func (s *Service) Timing() bool { return s.ServerTiming == nil || *s.ServerTiming }

// validatePolicy checks the wake and sleep policy keys and derives their
// parsed forms.
func (s *Service) validatePolicy(p *problems, key string) {
	oneOf(p, key+".wake", s.Wake, WakeHold, WakePage, WakeBackground)
	oneOf(p, key+".idle_action", s.IdleAction, IdleStop, IdleThrottle)
	s.probeSet = map[string]bool{}
	for i, path := range s.ProbePaths {
		if !strings.HasPrefix(path, "/") {
			p.add(fmt.Sprintf("%s.probe_paths[%d]", key, i), "%q: want a path starting with \"/\"", path)
		}
		s.probeSet[path] = true
	}
	s.noWake = s.noWake[:0]
	for i, expr := range s.NoWakeUserAgents {
		re, err := regexp.Compile(expr)
		if err != nil {
			p.add(fmt.Sprintf("%s.no_wake_user_agents[%d]", key, i), "%q: not a regular expression: %v", expr, err)
			continue
		}
		s.noWake = append(s.noWake, re)
	}
	s.windows = s.windows[:0]
	for i, text := range s.KeepAwake {
		w, err := ParseWindow(text)
		if err != nil {
			p.add(fmt.Sprintf("%s.keep_awake[%d]", key, i), "%v", err)
			continue
		}
		s.windows = append(s.windows, w)
	}
	if s.KeepAwakeWake && len(s.KeepAwake) == 0 {
		p.add(key+".keep_awake_wake", "needs keep_awake windows")
	}
	if s.ThrottleCPUPercent < 1 || s.ThrottleCPUPercent > 100000 {
		p.add(key+".throttle_cpu_percent", "%d: want 1 or more (percent of one CPU)", s.ThrottleCPUPercent)
	}
	if s.ThrottleMemoryHighMB < 0 {
		p.add(key+".throttle_memory_high_mb", "%d: want 0 (unchanged) or more", s.ThrottleMemoryHighMB)
	}
	if s.IdleAction == IdleThrottle && s.IdleTimeout == 0 {
		p.add(key+".idle_action", "\"throttle\" needs an idle_timeout")
	}
}
