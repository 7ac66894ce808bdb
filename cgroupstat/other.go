//go:build !linux

package cgroupstat

import (
	"errors"

	"github.com/tenement/tenement/names"
)

func (r *Reader) pass(int) (map[names.Instance]Usage, error) {
	return nil, errors.New("cgroupstat: cgroups are Linux only")
}
