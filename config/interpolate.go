package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mattn/go-shellwords"
)

// Vars are the values of the templates {name} {id} {data_dir} {port}
// {socket} for one instance. DataDir is the global data dir (compatible with
// the original); the instance's own directory is {data_dir}/{name}/{id} and is
// always in the DATA_DIR environment variable.
type Vars struct {
	Name, ID, DataDir, Port, Socket string
}

// InstanceVars returns the template values of one instance of s.
func (s *Service) InstanceVars(service, id, dataRoot string, port int) Vars {
	v := Vars{Name: service, ID: id, DataDir: dataRoot}
	if port > 0 {
		v.Port = strconv.Itoa(port)
	}
	v.Socket = s.SocketPath(v)
	return v
}

// Expand replaces the templates in s.
func (v Vars) Expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return strings.NewReplacer(
		"{name}", v.Name, "{id}", v.ID, "{data_dir}", v.DataDir,
		"{port}", v.Port, "{socket}", v.Socket,
	).Replace(s)
}

// Argv returns the command line of an instance: Command split like a shell
// would when Args is empty, else Command and Args; templates are replaced in
// each word after splitting, so a value with spaces stays one word.
func (s *Service) Argv(v Vars) ([]string, error) {
	words, err := splitCommand(s.Command, s.Args)
	if err != nil {
		return nil, err
	}
	for i, w := range words {
		words[i] = v.Expand(w)
	}
	return words, nil
}

// Environ returns the service's env, templates replaced, as sorted KEY=VALUE
// strings.
func (s *Service) Environ(v Vars) []string {
	out := make([]string, 0, len(s.Env))
	for k, val := range s.Env {
		out = append(out, k+"="+v.Expand(val))
	}
	sort.Strings(out)
	return out
}

// SocketPath returns SOCKET_PATH for an instance.
func (s *Service) SocketPath(v Vars) string {
	v.Port, v.Socket = "", ""
	return v.Expand(s.Socket)
}

func splitCommand(command string, args []string) ([]string, error) {
	if len(args) > 0 {
		return append([]string{command}, args...), nil
	}
	words, err := shellwords.Parse(command)
	if err != nil {
		return nil, fmt.Errorf("%q: cannot split: %v", command, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%q: empty command", command)
	}
	return words, nil
}
