//go:build linux

package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildTools builds the project's binaries that tests run inside managers
// into share/bin: ten and ten-isolate (found next to ten), with the race
// detector when race is set (as the tests' own build has it), and the test
// app, never with it (it stands for a tenant's app). The module is found
// from the working directory.
func BuildTools(share string, race bool) error {
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	root := ModuleRoot(cwd)
	for _, b := range []struct {
		out, pkg string
		race     bool
	}{{"ten", "./cmd/ten", race}, {"ten-isolate", "./cmd/ten-isolate", race}, {"testapp", "./internal/testapp", false}} {
		args := []string{"build", "-o", filepath.Join(share, "bin", b.out)}
		env := append(os.Environ(), "CGO_ENABLED=0")
		if b.race {
			args = append(args, "-race")
			env = append(os.Environ(), "CGO_ENABLED=1")
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Dir, cmd.Env = root, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}
