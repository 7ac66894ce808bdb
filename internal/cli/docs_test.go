package cli_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tenement/tenement/internal/cli"
	"github.com/tenement/tenement/internal/servecmd"
)

// TestCLIReference keeps docs/cli.md equal to what the commands say about
// themselves, the server side's included (as cmd/ten puts them together): a
// flag or command that is not in the reference fails here.
func TestCLIReference(t *testing.T) {
	got := reference(cli.Root(&cli.Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, servecmd.Commands...))
	const path = "../../docs/cli.md"
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("docs/cli.md is out of date: run go test ./internal/cli -update")
	}
}

// reference renders the command tree as markdown.
func reference(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("# `ten` command reference\n\n")
	b.WriteString("Generated from the commands themselves (`go test ./internal/cli -update`).\n")
	b.WriteString("Every command that prints data takes `--json`. Errors are one line on stderr\n")
	b.WriteString("and a non-zero exit status.\n\n")
	b.WriteString("## Global flags\n\n```\n" + root.PersistentFlags().FlagUsages() + "```\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			fmt.Fprintf(&b, "\n## `%s`\n\n%s.\n", sub.CommandPath(), strings.TrimSuffix(sub.Short, "."))
			if sub.Long != "" {
				b.WriteString("\n" + strings.TrimSpace(sub.Long) + "\n")
			}
			if sub.Runnable() {
				fmt.Fprintf(&b, "\n```\n%s\n", sub.UseLine())
				if f := sub.LocalFlags().FlagUsages(); f != "" {
					b.WriteString(f)
				}
				b.WriteString("```\n")
			}
			walk(sub)
		}
	}
	walk(root)
	b.WriteString("\n## Shell completion\n\n`ten completion bash|zsh|fish|powershell` prints a completion script (cobra's).\n")
	return b.String()
}
