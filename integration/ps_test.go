package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tenement/tenement/apitype"
)

// TestPsFiltersAndPages: with 120 instances registered asleep and one
// running, `ten ps` filters by state and name against the real daemon, and
// a page at a time its stderr's last line is the command for the next
// page, which reaches every instance once.
func TestPsFiltersAndPages(t *testing.T) {
	d := startDaemon(t, "", notesService)
	args := []string{"create"}
	var asleep []string
	for i := range 120 {
		asleep = append(asleep, fmt.Sprintf("notes:t%03d", i))
	}
	d.ten(append(args, asleep...)...)
	d.ten("spawn", "notes:alice")

	listJSON := func(args ...string) []apitype.Instance {
		t.Helper()
		out, errOut, err := d.tenSplit(append([]string{"ps", "--json"}, args...)...)
		if err != nil {
			t.Fatalf("ten ps %v: %v %s", args, err, errOut)
		}
		var list []apitype.Instance
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("ten ps %v: %v: %s", args, err, out)
		}
		return list
	}
	if l := listJSON("--state", "running"); len(l) != 1 || l[0].Name != "notes:alice" || l[0].Port == 0 {
		t.Errorf("--state running: %+v, want notes:alice with its port", l)
	}
	var found []string
	for _, i := range listJSON("--match", "T11") {
		found = append(found, i.Name)
	}
	if strings.Join(found, " ") != strings.Join(asleep[110:], " ") {
		t.Errorf("--match T11: %v", found)
	}

	next := []string{"ps", "--state", "asleep", "--limit", "50"}
	var got []string
	for page := 1; len(next) > 0; page++ {
		out, errOut, err := d.tenSplit(next...)
		if err != nil || page > 3 {
			t.Fatalf("page %d, ten %v: %v %s", page, next, err, errOut)
		}
		rows := strings.Split(strings.TrimSpace(out), "\n")[1:]
		for _, r := range rows {
			f := strings.Fields(r)
			if f[2] != "asleep" {
				t.Errorf("page %d: %s", page, r)
			}
			got = append(got, f[0])
		}
		next = nil
		if errOut != "" {
			const hint = "More instances follow; the next page: ten "
			if !strings.HasPrefix(errOut, hint) || len(rows) != 50 {
				t.Fatalf("page %d: %d rows, stderr %q", page, len(rows), errOut)
			}
			next = strings.Fields(strings.TrimPrefix(errOut, hint))
		}
	}
	if strings.Join(got, " ") != strings.Join(asleep, " ") {
		t.Errorf("the pages list %d instances, want the 120 asleep once each, in order", len(got))
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--state", "gone"}, `ten: invalid argument: state "gone"`},
		{[]string{"--service", "wiki"}, `ten: not found: service "wiki" is not configured`},
	} {
		out, errOut, err := d.tenSplit(append([]string{"ps"}, tc.args...)...)
		if err == nil || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("ps %v: %v, stdout %q, stderr %q; want %q", tc.args, err, out, errOut, tc.want)
		}
	}
}
