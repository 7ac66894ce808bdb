//go:build !linux

package isolation

import (
	"fmt"

	"github.com/tenement/tenement/errdefs"
)

func run(o Options) (int, error) {
	return ExitWrapperFailed, fmt.Errorf("%w: isolation %s needs Linux", errdefs.ErrUnimplemented, o.Mode)
}
