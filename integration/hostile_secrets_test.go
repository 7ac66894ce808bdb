package integration

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets (docs/isolation.md, "Secrets"): mallory can read neither the
// daemon's config, store or API socket, nor alice's credentials, data or
// unit environment; alice and mallory each read their own credentials
// from $CREDENTIALS_DIRECTORY, alice's own file winning over the
// service's.
//
// At ns and box the files are made readable by mode first (and the API
// socket connectable), so that what stops mallory is the unit's mount
// namespace alone (InaccessiblePaths=, the data root's tmpfs) and her own
// UID. At proc the modes are those the packages install, and only what
// modes can protect is tried: tenants of a process service share one user
// (and see the system bus and /run/systemd/transient as every local user
// does).
func TestHostileSecrets(t *testing.T) {
	creds := t.TempDir()
	searchable(t, creds)
	for _, svc := range []string{"ns", "box", "proc"} {
		for rel, content := range map[string]string{
			svc + "/token":       "service-token",
			svc + "/db":          "shared-db",
			svc + "/alice/token": "alice-token",
		} {
			p := filepath.Join(creds, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	eachLevel(t, fmt.Sprintf("credentials_dir = %q", creds), func(t *testing.T, d *daemon, svc string) {
		d.ten("spawn", svc+":alice")
		d.ten("spawn", svc+":mallory")
		alice, mallory := d.instanceHost(svc, "alice"), d.instanceHost(svc, "mallory")
		aliceUnit := "tenement@" + svc + "-alice.service"

		// Each reads her own credentials; alice's token is hers alone.
		for _, c := range []struct{ host, unit, name, want string }{
			{alice, aliceUnit, "token", "alice-token"},
			{alice, aliceUnit, "db", "shared-db"},
			{mallory, "tenement@" + svc + "-mallory.service", "token", "service-token"},
			{mallory, "tenement@" + svc + "-mallory.service", "db", "shared-db"},
		} {
			if got := d.must(c.host, "/read?path=/run/credentials/"+c.unit+"/"+c.name); got != c.want {
				t.Errorf("%s reads credential %s: %q, want %q", c.unit, c.name, got, c.want)
			}
		}
		if env := d.must(alice, "/env"); !strings.Contains(env, "CREDENTIALS_DIRECTORY=/run/credentials/"+aliceUnit) || strings.Contains(env, "alice-token") {
			t.Errorf("alice's environment: want CREDENTIALS_DIRECTORY and no secret:\n%s", env)
		}

		api := filepath.Dir(d.sock)
		params := url.Values{
			"victim":      {svc + ":alice"},
			"victim_unit": {aliceUnit},
			"api":         {d.sock},
			"path": {
				d.cfgPath,
				filepath.Join(d.dataDir, "tenement.db"),
				filepath.Join(creds, svc, "alice", "token"),
				filepath.Join(creds, svc, "token"),
			},
		}
		attacks := []string{"read-files", "connect-api"}
		if svc == "proc" {
			// Modes as the packages install them: the config 0640
			// root:tenement, the credentials root's alone, the API
			// socket's directory open and the socket 0660.
			chmod(t, d.cfgPath, 0o640)
			chmodTree(t, creds, 0o700, 0o600)
			chmod(t, api, 0o755)
		} else {
			// Readable by mode: only the unit's mounts and its own UID
			// stand in the way.
			chmodTree(t, creds, 0o755, 0o644)
			chmod(t, api, 0o755)
			chmod(t, d.sock, 0o666)
			params["path"] = append(params["path"],
				filepath.Join(d.dataDir, svc, "alice"),
				"/run/credentials/"+aliceUnit+"/token",
				"/run/systemd/transient/"+aliceUnit)
			attacks = append(attacks, "system-bus")
		}
		for _, name := range attacks {
			mustBlock(t, svc, d.attack(mallory, name, params))
		}
		if svc == "box" {
			// gVisor runs with the least it was found to need.
			caps, filter := show(t, aliceUnit, "CapabilityBoundingSet"), show(t, aliceUnit, "SystemCallFilter")
			if strings.Contains(caps, "cap_net_admin") || strings.Contains(caps, "cap_sys_ptrace") || !strings.Contains(caps, "cap_sys_admin") {
				t.Errorf("%s CapabilityBoundingSet=%s", aliceUnit, caps)
			}
			if !strings.Contains(filter, "pivot_root") || strings.Contains(filter, "bpf") || strings.Contains(filter, "init_module") {
				t.Errorf("%s SystemCallFilter=%.300s…", aliceUnit, filter)
			}
		}
		// The modes of the ns and box case let root's neighbours in: the
		// checks above are not vacuous.
		if svc != "proc" {
			for _, p := range []string{d.cfgPath, "/run/systemd/transient/" + aliceUnit, filepath.Join(creds, svc, "alice", "token")} {
				if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o004 == 0 {
					t.Errorf("%s: %v, mode %v: want it readable by others for this test", p, err, fi.Mode())
				}
			}
		}
	})
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// chmodTree sets the modes of every dir and file under root.
func chmodTree(t *testing.T, root string, dirMode, fileMode os.FileMode) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, dirMode)
		}
		return os.Chmod(p, fileMode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// searchable makes the dirs above dir, up to the test's temp dir, as
// searchable by others as /etc is: the test's temp dirs are 0700.
func searchable(t *testing.T, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		chmod(t, d, fi.Mode().Perm()|0o111)
	}
}
