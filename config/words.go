package config

import (
	"reflect"
	"regexp"
	"strings"
)

// tomlTypeErr is the decoder's type mismatch, in Go's words.
var tomlTypeErr = regexp.MustCompile(`^incompatible types: TOML value has type (\S+); destination has type (\S+)$`)

// typeWords rewrites a decoder's type mismatch in TOML's words: "wrong
// type: want an integer, not a string". Other messages pass unchanged.
func typeWords(msg string) string {
	m := tomlTypeErr.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return "wrong type: want " + destWord(m[2]) + ", not " + valueWord(m[1])
}

func valueWord(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "int64":
		return "an integer"
	case goType == "float64":
		return "a float"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["):
		return "a table"
	case goType == "time.Time" || strings.HasPrefix(goType, "toml.Local"):
		return "a date-time"
	}
	return goType
}

func destWord(goKind string) string {
	switch goKind {
	case "integer":
		return "an integer"
	case "float":
		return "a float"
	case "boolean":
		return "a boolean"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "a table"
	}
	return goKind
}

// knownKeys returns the keys a table may hold: the toml tags of its struct.
func knownKeys(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// tableKeys returns the known keys of the table that holds the key path k,
// and whether the table's keys are known at all (env tables take any key).
func tableKeys(k []string) []string {
	switch {
	case len(k) == 2 && k[0] == "settings":
		return knownKeys(Settings{})
	case len(k) == 3 && k[0] == "settings" && k[1] == "tls":
		return knownKeys(TLS{})
	case len(k) == 3 && k[0] == "service":
		return knownKeys(Service{})
	case len(k) == 1:
		return knownKeys(Config{})
	}
	return nil
}

// didYouMean returns the known key closest to key, when one is close
// enough to be a typo (an edit distance of at most a third of its length,
// and at most 3), else "".
func didYouMean(key string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(key, k); d < bestD && d <= max(1, len(k)/3) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
