package packaging

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The files every package ships, besides the unit files.
var commonFiles = []string{
	"/etc/tenement/tenement.toml",
	"/usr/bin/ten",
	"/usr/lib/sysusers.d/tenement.conf",
	"/usr/lib/tenement/ten-isolate",
	"/usr/lib/tmpfiles.d/tenement.conf",
	"/usr/share/doc/tenement/api.md",
	"/usr/share/doc/tenement/cli.md",
	"/usr/share/doc/tenement/configuration.md",
	"/usr/share/doc/tenement/fleet.md",
	"/usr/share/doc/tenement/isolation.md",
	"/usr/share/doc/tenement/metrics.md",
	"/usr/share/doc/tenement/production.md",
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func TestDebContents(t *testing.T) {
	p := requirePackages(t)
	// dpkg-deb -c: "-rwxr-xr-x root/root 10748066 2026-11-22 09:06 ./usr/bin/ten"
	files, modes := []string{}, map[string]string{}
	dirs := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(output(t, "dpkg-deb", "-c", p.deb1)), "\n") {
		f := strings.Fields(line)
		path := strings.TrimPrefix(f[len(f)-1], ".")
		if strings.HasPrefix(f[0], "d") {
			dirs[strings.TrimSuffix(path, "/")] = true
			modes[strings.TrimSuffix(path, "/")] = f[0] + " " + f[1]
			continue
		}
		files = append(files, path)
		modes[path] = f[0] + " " + f[1]
	}
	want := sorted(append([]string{"/lib/systemd/system/tenement.service", "/lib/systemd/system/tenement.socket",
		"/usr/share/doc/tenement/copyright", "/usr/share/doc/tenement/changelog.Debian.gz", "/usr/share/lintian/overrides/tenement"}, commonFiles...))
	if strings.Join(sorted(files), "\n") != strings.Join(want, "\n") {
		t.Errorf("dpkg-deb -c files:\n%s\nwant:\n%s", strings.Join(sorted(files), "\n"), strings.Join(want, "\n"))
	}
	if !dirs["/etc/tenement"] {
		t.Error("no /etc/tenement directory entry")
	}
	for path, want := range map[string]string{
		"/usr/bin/ten":                         "-rwxr-xr-x root/root",
		"/usr/lib/tenement/ten-isolate":        "-rwxr-xr-x root/root",
		"/lib/systemd/system/tenement.service": "-rw-r--r-- root/root",
		// The postinst gives the config to group tenement once it exists.
		"/etc/tenement/tenement.toml": "-rw-r----- root/root",
		"/etc/tenement/credentials":   "drwx------ root/root",
	} {
		if modes[path] != want {
			t.Errorf("%s: %q, want %q", path, modes[path], want)
		}
	}
	fields := output(t, "dpkg-deb", "-f", p.deb1, "Package", "Version", "Architecture", "Depends")
	for _, want := range []string{"Package: tenement", "Version: " + version1 + "-1", "Depends: systemd, dbus"} {
		if !strings.Contains(fields, want) {
			t.Errorf("control fields lack %q:\n%s", want, fields)
		}
	}
	if got := strings.TrimSpace(output(t, "dpkg-deb", "-I", p.deb1, "conffiles")); got != "/etc/tenement/tenement.toml" {
		t.Errorf("conffiles = %q", got)
	}
	for script, wants := range map[string][]string{
		"postinst": {"deb-systemd-helper", "deb-systemd-invoke start tenement.socket", "deb-systemd-invoke restart tenement.service", "systemd-sysusers tenement.conf",
			"chgrp tenement /etc/tenement/tenement.toml", "chmod o-rwx /etc/tenement/tenement.toml"},
		"prerm":  {"deb-systemd-invoke stop tenement.service tenement.socket", "ten teardown"},
		"postrm": {"deb-systemd-helper purge", "rm -rf /var/lib/tenement /run/tenement /etc/tenement"},
	} {
		text := output(t, "dpkg-deb", "-I", p.deb1, script)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", script, w)
			}
		}
	}
}

func TestRPMContents(t *testing.T) {
	p := requirePackages(t)
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Fatal("rpm is not installed (scripts/deps installs it)")
	}
	files := strings.Fields(output(t, "rpm", "-qpl", p.rpm1))
	// rpm -qpl lists the directory entries /etc/tenement and its credentials
	// too.
	want := sorted(append([]string{"/etc/tenement", "/etc/tenement/credentials", "/usr/lib/systemd/system/tenement.service", "/usr/lib/systemd/system/tenement.socket",
		"/usr/share/licenses/tenement/LICENSE", "/usr/share/licenses/tenement/copyright"}, commonFiles...))
	if strings.Join(sorted(files), "\n") != strings.Join(want, "\n") {
		t.Errorf("rpm -qpl:\n%s\nwant:\n%s", strings.Join(sorted(files), "\n"), strings.Join(want, "\n"))
	}
	if got := strings.TrimSpace(output(t, "rpm", "-qp", "--configfiles", p.rpm1)); got != "/etc/tenement/tenement.toml" {
		t.Errorf("config files = %q", got)
	}
	// %config(noreplace): the file flags carry both bits.
	flags := output(t, "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", p.rpm1)
	if !strings.Contains(flags, "/etc/tenement/tenement.toml cn") {
		t.Errorf("tenement.toml is not %%config(noreplace):\n%s", flags)
	}
	perms := output(t, "rpm", "-qp", "--queryformat", "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME}\n]", p.rpm1)
	for _, want := range []string{"/etc/tenement/tenement.toml -rw-r----- root/root", "/etc/tenement/credentials drwx------ root/root"} {
		if !strings.Contains(perms, want+"\n") {
			t.Errorf("rpm file modes lack %q:\n%s", want, perms)
		}
	}
	if got := output(t, "rpm", "-qp", "--queryformat", "%{NAME} %{VERSION} %{RELEASE} %{LICENSE}", p.rpm1); got != "tenement "+version1+" 1 Apache-2.0" {
		t.Errorf("name version release license = %q", got)
	}
	if !strings.Contains(flags, "/usr/share/licenses/tenement/LICENSE l") {
		t.Errorf("LICENSE is not a %%license file:\n%s", flags)
	}
	if got := output(t, "rpm", "-qp", "--changelog", p.rpm1); !strings.Contains(got, "First packaged release") {
		t.Errorf("rpm %%changelog:\n%s", got)
	}
	requires := output(t, "rpm", "-qp", "--requires", p.rpm1)
	for _, w := range []string{"systemd", "dbus"} {
		if !strings.Contains(requires, w) {
			t.Errorf("requires lack %s:\n%s", w, requires)
		}
	}
	scripts := output(t, "rpm", "-qp", "--scripts", p.rpm1)
	for _, w := range []string{"systemd-sysusers tenement.conf", "/usr/bin/ten teardown", "systemctl try-restart tenement.service", "chgrp tenement /etc/tenement/tenement.toml"} {
		if !strings.Contains(scripts, w) {
			t.Errorf("scriptlets lack %q", w)
		}
	}
}

// TestPackagedBinary checks the ten in the .deb: static (CGO_ENABLED=0), and
// stamped with the package's version.
func TestPackagedBinary(t *testing.T) {
	p := requirePackages(t)
	bin := filepath.Join(t.TempDir(), "ten")
	cmd := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/bin/ten > "$2" && chmod 755 "$2"`, "sh", p.deb1, bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extract: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(output(t, bin, "version")); !strings.HasPrefix(got, "ten "+version1+" ") {
		t.Errorf("ten version = %q, want the package version", got)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Error("/usr/bin/ten is dynamically linked; want a static CGO_ENABLED=0 build")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
}
