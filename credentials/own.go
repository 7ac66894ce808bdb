package credentials

import (
	"errors"
	"fmt"
	"path"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Own returns an instance's own credentials (not its service's), by name,
// with their values: what moves with the instance to another host of a
// fleet. None is an empty map.
func (d Dir) Own(n names.Instance) (map[string][]byte, error) {
	out := map[string][]byte{}
	root, err := d.open(false)
	if errors.Is(err, errdefs.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	t := forInstance(n)
	byName := map[string]apitype.Credential{}
	if err := list(root, t, apitype.ScopeInstance, byName); err != nil {
		return nil, err
	}
	for name := range byName {
		b, err := root.ReadFile(path.Join(dir(t), name))
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		out[name] = b
	}
	return out, nil
}
