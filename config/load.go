package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/tenement/tenement/errdefs"
)

// Error is one problem with a config file. Error() renders it on one line:
// "FILE:LINE: KEY: MESSAGE", leaving out what is unknown.
type Error struct {
	File string
	Line int // 0 when unknown
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every config error an errdefs.ErrInvalid.
func (e *Error) Unwrap() error { return errdefs.ErrInvalid }

// Errors is every problem found in one file, in file order. Its Error() is
// one line: the first problem and how many more there are.
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	default:
		return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
	}
}

// Unwrap returns the individual errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Find returns the config file to use: explicit if set, else
// $TENEMENT_CONFIG, else /etc/tenement/tenement.toml if it exists. It
// returns "" when there is none. The current directory is never searched:
// a `ten` run by root in a directory a tenant can write would otherwise
// take the tenant's config (and its api_socket).
func Find(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv("TENEMENT_CONFIG"); env != "" {
		return env
	}
	if _, err := os.Stat(DefaultPath); err == nil {
		return DefaultPath
	}
	return ""
}

// Load reads, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(abs, data)
}

// Parse decodes, defaults and validates data, which came from file (used
// for error messages and to resolve relative paths).
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{Path: file}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, Errors{decodeError(file, err)}
	}
	loc := newLocator(string(data))
	var errs Errors
	unknown := md.Undecoded()
	reported := map[string]bool{}
	for _, k := range unknown {
		if underReported(k, reported) {
			continue
		}
		reported[k.String()] = true
		errs = append(errs, unknownKey(file, loc, k))
	}
	if len(errs) == 0 {
		errs = append(errs, zeroes(c, md.IsDefined, file, loc)...)
		c.setDefaults(md.IsDefined)
		for _, e := range c.validate() {
			e.File = file
			e.Line = loc.line(e.Key)
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, tidy(errs)
	}
	c.loc = loc
	return c, nil
}

var tomlLineErr = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)

// decodeError turns a decoder error into an Error with line and key.
func decodeError(file string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
	}
	if m := tomlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Key: m[2], Msg: typeWords(m[3])}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
}

// unsupported explains keys of the original tenement that do not exist here.
var unsupported = map[string]string{
	"routing":    "[routing] is not supported: tenement routes by subdomain ({id}.{service}.{domain}); remove it",
	"image":      "not supported: container images belong to the original's Docker runtimes; use isolation = \"sandbox\" to run the command under gVisor",
	"mounts":     "not supported: the data dir {data_dir}/{service}/{id} is the instance's storage",
	"kernel":     "not supported: microVM runtimes do not exist in tenement for systemd",
	"rootfs":     "not supported: namespace isolation uses the host's read-only system",
	"memory_mb":  "not supported: microVM runtimes do not exist here; use memory_limit_mb",
	"vcpus":      "not supported: microVM runtimes do not exist here; use cpu_shares",
	"vsock_port": "not supported: microVM runtimes do not exist here",
}

func unknownKey(file string, loc *locator, k toml.Key) *Error {
	key := k.String()
	e := &Error{File: file, Line: loc.line(key), Key: key, Msg: "unknown key"}
	last := k[len(k)-1]
	if k[0] == "routing" {
		e.Key, e.Msg = "routing", unsupported["routing"]
		e.Line = loc.line("routing")
	} else if msg, ok := unsupported[last]; ok && k[0] == "service" && len(k) == 3 {
		e.Msg = msg
	} else if near := didYouMean(last, tableKeys(k)); near != "" {
		e.Msg = "unknown key; did you mean " + near + "?"
	}
	return e
}

// tidy drops repeated problems and orders the rest by line, unknown lines
// last.
func tidy(errs Errors) Errors {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if k := e.Key + "\x00" + e.Msg; !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := out[i].Line, out[j].Line
		return li > 0 && (lj == 0 || li < lj)
	})
	return out
}

// underReported reports whether a prefix of k is already reported unknown:
// an unknown table's keys are not listed one by one.
func underReported(k toml.Key, reported map[string]bool) bool {
	for n := 1; n < len(k); n++ {
		if reported[k[:n].String()] {
			return true
		}
	}
	return false
}
