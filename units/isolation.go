package units

import (
	"fmt"

	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
)

// isolationProperties returns the properties of the instance's isolation
// level and may wrap exec in the level's wrapper.
func isolationProperties(s Spec, dataDir string, exec *Exec) ([]Property, error) {
	switch s.Service.Isolation {
	case config.IsolationProcess:
		var p []Property
		if s.Service.User != "" {
			p = append(p, Property{"User", s.Service.User})
		}
		return p, nil
	default:
		return nil, fmt.Errorf("%w: isolation %q is not available yet; use isolation = \"process\"", errdefs.ErrUnimplemented, s.Service.Isolation)
	}
}
