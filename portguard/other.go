//go:build !linux

package portguard

import (
	"fmt"

	"github.com/tenement/tenement/errdefs"
)

// Guard needs Linux.
func Guard(r Rule) (string, error) {
	return "", fmt.Errorf("%w: port guard needs Linux", errdefs.ErrUnimplemented)
}

// Attach needs Linux.
func Attach(dir string, r Rule) error {
	return fmt.Errorf("%w: port guard needs Linux", errdefs.ErrUnimplemented)
}
