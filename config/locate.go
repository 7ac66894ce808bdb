package config

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// locator finds the line on which a key is defined. The TOML decoder does
// not expose key positions, so this scans the text for table headers and
// "key = value" lines. It is best effort: a key it cannot place has line 0,
// and a key that is not in the file at all (a missing required key) is placed
// at its nearest enclosing table.
type locator struct {
	lines map[string]int // key path (toml.Key.String()) -> first line
}

func newLocator(text string) *locator {
	l := &locator{lines: map[string]int{}}
	var table []string
	inMultiline := ""
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		line := strings.TrimSpace(raw)
		if inMultiline != "" {
			if strings.Count(line, inMultiline)%2 == 1 {
				inMultiline = ""
			}
			continue
		}
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[[") || strings.HasPrefix(line, "["):
			inner := strings.TrimLeft(line, "[")
			if end := strings.Index(inner, "]"); end >= 0 {
				inner = inner[:end]
			}
			if parts, ok := splitKey(inner); ok {
				table = parts
				l.add(table, lineNo)
			}
			continue
		}
		eq := keyEnd(line)
		if eq < 0 {
			continue
		}
		parts, ok := splitKey(line[:eq])
		if !ok {
			continue
		}
		full := append(append([]string{}, table...), parts...)
		l.add(full, lineNo)
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(line[eq:], q)%2 == 1 {
				inMultiline = q
			}
		}
	}
	return l
}

func (l *locator) add(parts []string, line int) {
	k := toml.Key(parts).String()
	if _, ok := l.lines[k]; !ok {
		l.lines[k] = line
	}
}

// line returns the line of key (in toml.Key.String() form), or of its
// longest enclosing key that the file defines, or 0.
func (l *locator) line(key string) int {
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		key = key[:i] // a list element is on its list's line
	}
	parts, ok := splitKey(key)
	if !ok {
		return 0
	}
	for n := len(parts); n > 0; n-- {
		if line, ok := l.lines[toml.Key(parts[:n]).String()]; ok {
			return line
		}
	}
	return 0
}

// keyEnd returns the index of the "=" that ends the key part of a
// key/value line, skipping quoted key parts, or -1.
func keyEnd(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		}
	}
	return -1
}

// splitKey splits a dotted TOML key (bare or quoted parts) into its parts.
func splitKey(s string) ([]string, bool) {
	var parts []string
	s = strings.TrimSpace(s)
	for s != "" {
		var part string
		switch s[0] {
		case '"', '\'':
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return nil, false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			part, s = strings.TrimSpace(s[:end]), s[end:]
			if part == "" {
				return nil, false
			}
		}
		parts = append(parts, part)
		s = strings.TrimSpace(s)
		if s == "" {
			break
		}
		if s[0] != '.' {
			return nil, false
		}
		s = strings.TrimSpace(s[1:])
	}
	return parts, len(parts) > 0
}
