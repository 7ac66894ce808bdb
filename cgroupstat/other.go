//go:build !linux

package cgroupstat

import (
	"errors"

	"github.com/tenement/tenement/names"
)

type openUnits struct{}

func (openUnits) closeAll() {}

func defaultMaxOpen() int { return -1 }

func (r *Reader) pass(int, int) (map[names.Instance]Usage, error) {
	return nil, errors.New("cgroupstat: cgroups are Linux only")
}
