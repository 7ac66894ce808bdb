package packaging

import (
	"bytes"
	"compress/gzip"
	"debug/buildinfo"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// debFile returns the contents of path in the .deb.
func debFile(t *testing.T, deb, path string) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", `dpkg-deb --fsys-tarfile "$1" | tar -xO ".$2"`, "sh", deb, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s from %s: %v\n%s", path, deb, err, stderr.Bytes())
	}
	return out
}

// stanza is one paragraph of a DEP-5 file: its fields, continuation lines
// joined with "\n".
type stanza map[string]string

func parseDEP5(text string) []stanza {
	var out []stanza
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		s, key := stanza{}, ""
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, " ") && key != "" {
				s[key] += "\n" + strings.TrimSpace(line)
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			key = k
			s[key] = strings.TrimSpace(v)
		}
		out = append(out, s)
	}
	return out
}

// dep5Match reports whether a DEP-5 Files: pattern matches path: "*"
// matches any run of characters, "/" included; "?" one character.
func dep5Match(pattern, path string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(re)
	return regexp.MustCompile("^" + re + "$").MatchString(path)
}

// TestCopyright checks /usr/share/doc/tenement/copyright of the .deb: the
// machine-readable format (DEP-5), tenement under Apache-2.0 with the text
// in /usr/share/common-licenses, a license paragraph for every license
// named, and every Go module compiled into the two binaries covered by a
// Files: paragraph, so that a new dependency cannot ship unlicensed.
func TestCopyright(t *testing.T) {
	p := requirePackages(t)
	text := string(debFile(t, p.deb1, "/usr/share/doc/tenement/copyright"))
	paras := parseDEP5(text)
	if paras[0]["Format"] != "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" || paras[0]["Upstream-Name"] != "tenement" || paras[0]["Source"] == "" {
		t.Fatalf("header paragraph: %v", paras[0])
	}
	var files []stanza
	licenses := map[string]string{}
	for _, s := range paras[1:] {
		if _, ok := s["Files"]; ok {
			if s["Copyright"] == "" || s["License"] == "" {
				t.Errorf("Files: %s lacks Copyright or License", s["Files"])
			}
			files = append(files, s)
		} else if name, ok := s["License"]; ok {
			short, body, _ := strings.Cut(name, "\n")
			licenses[short] = body
		}
	}
	if len(files) == 0 || files[0]["Files"] != "*" || files[0]["License"] != "Apache-2.0" {
		t.Errorf("first Files paragraph: %v, want Files: * under Apache-2.0", files[0])
	}
	if !strings.Contains(licenses["Apache-2.0"], "/usr/share/common-licenses/Apache-2.0") {
		t.Errorf("the Apache-2.0 paragraph does not refer to /usr/share/common-licenses/Apache-2.0")
	}
	for _, f := range files {
		if _, ok := licenses[f["License"]]; !ok {
			t.Errorf("Files: %s: no paragraph for license %q", f["Files"], f["License"])
		}
	}

	dir := t.TempDir()
	for _, bin := range []string{"/usr/bin/ten", "/usr/lib/tenement/ten-isolate"} {
		path := filepath.Join(dir, filepath.Base(bin))
		if err := os.WriteFile(path, debFile(t, p.deb1, bin), 0o755); err != nil {
			t.Fatal(err)
		}
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Deps) == 0 {
			t.Errorf("%s: no Go modules in its build info", bin)
		}
		for _, m := range info.Deps {
			covered := false
			for _, s := range files[1:] {
				for _, pat := range strings.Fields(s["Files"]) {
					covered = covered || dep5Match(pat, "vendor/"+m.Path+"/go.mod")
				}
			}
			if !covered {
				t.Errorf("%s contains the Go module %s, which no Files: paragraph of packaging/copyright covers", bin, m.Path)
			}
		}
	}
}

// TestChangelog checks the .deb's changelog.Debian.gz: where Debian wants
// it for a package with a Debian revision, compressed, and in Debian's
// format.
func TestChangelog(t *testing.T) {
	p := requirePackages(t)
	zr, err := gzip.NewReader(bytes.NewReader(debFile(t, p.deb1, "/usr/share/doc/tenement/changelog.Debian.gz")))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	head := regexp.MustCompile(`^tenement \([0-9][^ )]*-[0-9]+\) [a-z]+; urgency=[a-z]+\n`)
	trailer := regexp.MustCompile(`(?m)^ -- [^<]+ <[^>]+>  [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$`)
	if !head.MatchString(text) || !trailer.MatchString(text) || !strings.Contains(text, "\n  * ") {
		t.Errorf("changelog.Debian.gz is not a Debian changelog:\n%s", text)
	}
}
