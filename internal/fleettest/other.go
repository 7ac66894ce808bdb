//go:build !linux

package fleettest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// dieWithUs does nothing: only Linux has a parent-death signal.
func dieWithUs(cmd *exec.Cmd) {}

// Fleet needs Linux (namespaces, veths, systemd managers).
type Fleet struct{}

// Options configure Start.
type Options struct {
	Hosts int
	Share []string
	Setup func(share string) error
}

// Start fails: a fleet needs Linux.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	return nil, errors.New("fleettest: a fleet needs Linux")
}

// Stop does nothing.
func (f *Fleet) Stop() error { return nil }

// Require skips (fails in CI): a fleet needs Linux.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal("fleettest: a fleet needs Linux")
	}
	t.Skip("fleettest: a fleet needs Linux")
}
