//go:build !linux

package testbed

import (
	"context"
	"errors"
	"os/exec"
	"testing"
)

var errUnsupported = errors.New("testbed: a systemd manager needs Linux")

// Start fails: the testbed needs Linux.
func Start(ctx context.Context, opts Options) (*Manager, error) {
	if _, err := checkOptions(opts); err != nil {
		return nil, err
	}
	return nil, errUnsupported
}

// Stop fails: the testbed needs Linux.
func (m *Manager) Stop() error { return errUnsupported }

// Command returns a command whose Start fails: the testbed needs Linux.
func (m *Manager) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Err = errUnsupported
	return cmd
}

// CleanupStale does nothing: the testbed needs Linux.
func CleanupStale(ctx context.Context) error { return nil }

// Main runs the tests on the host; Require skips (or fails in CI).
func Main(m *testing.M, setup func(share string) error) int {
	noManager = "not Linux"
	return m.Run()
}

type cgroupTree struct {
	layout          string
	controllers, v1 map[string]bool
}

func readCgroupTree() (cgroupTree, error) { return cgroupTree{}, errUnsupported }

// CgroupLayout is "none": the testbed needs Linux.
func CgroupLayout() string { return "none" }
