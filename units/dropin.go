package units

import (
	"strings"
)

// The drop-in of an instance's commands (Units.ExecDropIn).
//
// systemd 252 writes a transient unit's ExecStartEx= and ExecStartPreEx=
// (the commands with flags: "!", "+") into its file under
// /run/systemd/transient under those names, which its own unit file parser
// does not know: at the next daemon-reload (every package upgrade on the
// host runs one) it drops them with "Unknown key 'ExecStartEx'". A namespace
// or sandbox unit is then left without ExecStart= ("bad-setting": it keeps
// running, but systemd cannot restart it after a crash), and every unit
// without its port guard. Measured on 252.38 (Debian 12). The daemon
// therefore also writes these commands, in unit file syntax, as a drop-in
// of the unit (supervisor/dropin.go): systemd does not see a drop-in made
// after its last reload (its unit path cache), and at the next reload it
// reads the drop-in in place of the lines it dropped.

// DropInName is the file name of the drop-in.
const DropInName = "50-tenement-exec.conf"

// execDropIn returns the drop-in that restates the flagged commands of
// props in unit file syntax, or "" when none has flags.
func execDropIn(props []Property) string {
	var b strings.Builder
	for _, p := range props {
		base, ok := strings.CutSuffix(p.Name, "Ex")
		if !ok {
			continue
		}
		execs, _ := p.Value.([]Exec)
		if b.Len() == 0 {
			b.WriteString("# Written by tenement: systemd 252 drops the transient unit's " +
				"ExecStartEx=/ExecStartPreEx= at a daemon-reload (units/dropin.go).\n[Service]\n")
		}
		b.WriteString(base + "=\n") // reset, then restate
		for _, e := range execs {
			b.WriteString(base + "=" + execLine(e) + "\n")
		}
	}
	return b.String()
}

// flagPrefix maps ExecStartEx flags to unit file prefixes.
var flagPrefix = map[string]string{
	"ignore-failure": "-",
	"privileged":     "+",
	"no-setuid":      "!",
	"ambient":        "!!",
	"no-env-expand":  ":",
}

// execLine is one command in unit file syntax: prefixes, the program, and
// each argument quoted, with "$" and "%" escaped so that systemd expands
// nothing.
func execLine(e Exec) string {
	var b strings.Builder
	for _, f := range e.Flags {
		b.WriteString(flagPrefix[f])
	}
	argv := e.Argv
	if len(argv) == 0 || argv[0] != e.Path {
		b.WriteString("@") // argv[0] differs from the program
	} else {
		argv = argv[1:]
	}
	b.WriteString(quoteArg(e.Path))
	for _, a := range argv {
		b.WriteString(" " + quoteArg(a))
	}
	return b.String()
}

// quoteArg quotes one word for an Exec line: double quotes, C escapes for
// backslash, quote and control characters, "$$" and "%%".
func quoteArg(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '$':
			b.WriteString("$$")
		case '%':
			b.WriteString("%%")
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				b.WriteString(`\x` + string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15]))
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
