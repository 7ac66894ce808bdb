package supervisor

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tenement/tenement/units"
)

// DefaultDropInDir is where the daemon writes the drop-ins of its units'
// commands (units/dropin.go says why): a directory of systemd's unit path
// under /run, emptied at boot as the units are.
const DefaultDropInDir = "/run/systemd/system"

// writeDropIn writes the drop-in of an instance's unit before the unit
// starts, or removes a stale one when the unit needs none. It is atomic (a
// daemon-reload never reads half a file).
func (s *Supervisor) writeDropIn(u units.Units) error {
	if s.dropInDir == "" {
		return nil
	}
	dir := filepath.Join(s.dropInDir, u.ServiceName+".d")
	path := filepath.Join(dir, units.DropInName)
	if u.ExecDropIn == "" {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("drop-in: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("drop-in: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(u.ExecDropIn), 0o644); err != nil {
		return fmt.Errorf("drop-in: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("drop-in: %w", err)
	}
	return nil
}

// removeDropIn removes the drop-in of an instance's unit once the unit is
// gone (a stop, a delete).
func (s *Supervisor) removeDropIn(in *inst) {
	if s.dropInDir == "" {
		return
	}
	dir := filepath.Join(s.dropInDir, in.unit+".d")
	if err := os.Remove(filepath.Join(dir, units.DropInName)); err != nil && !os.IsNotExist(err) {
		s.log.Warn("remove drop-in", "unit", in.unit, "err", err)
	}
	_ = os.Remove(dir) // only when empty: an operator's drop-ins stay
}
