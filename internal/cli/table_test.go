package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
)

// writeTable prints what text/tabwriter prints for the same cells:
// the tables' format did not change when it stopped being used.
func TestWriteTableMatchesTabwriter(t *testing.T) {
	rows := [][]string{
		{"INSTANCE", "STATE", "PORT", "NOTE"},
		{"notes:alice", "running", "20001", "awake until Dec 7 10:00"},
		{"notes:bö", "asleep", "-", ""},
		{"", "", "", "-"},
		{"notes:a-much-longer-name-than-the-padding-string-holds-in-one-go-xx", "failed", "20002", "restart pending, orphaned"},
	}
	var want bytes.Buffer
	tw := tabwriter.NewWriter(&want, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := writeTable(&got, rows); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("writeTable:\n%s\ntabwriter:\n%s", got.String(), want.String())
	}
}
