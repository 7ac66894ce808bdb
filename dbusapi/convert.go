package dbusapi

import (
	"fmt"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/units"
)

// D-Bus shapes of the structured property values.
type (
	execStart struct { // a(sasb)
		Path          string
		Argv          []string
		IgnoreFailure bool
	}
	execStartEx struct { // a(sasas)
		Path  string
		Argv  []string
		Flags []string
	}
	listen   struct{ Type, Address string } // a(ss)
	bindPath struct {                       // a(ssbt)
		Source, Destination string
		IgnoreMissing       bool
		Flags               uint64
	}
	tmpfs      struct{ Path, Options string } // a(ss)
	credential struct{ Name, Path string }    // a(ss)
	nameList   struct {                       // (bas)
		Allow bool
		Names []string
	}
)

// msRec is MS_REC, the flag of a recursive bind mount in BindPaths.
const msRec = 16384

func convertAll(props []units.Property) ([]sd.Property, error) {
	out := make([]sd.Property, 0, len(props))
	for _, p := range props {
		v, err := convert(p.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: property %s: %w", errdefs.ErrInvalid, p.Name, err)
		}
		out = append(out, sd.Property{Name: p.Name, Value: godbus.MakeVariant(v)})
	}
	return out, nil
}

func convert(v any) (any, error) {
	switch x := v.(type) {
	case string, bool, int32, uint32, uint64, []string:
		return x, nil
	case units.LogFields:
		out := make([][]byte, len(x))
		for i, f := range x {
			out[i] = []byte(f)
		}
		return out, nil
	case []units.Exec:
		if len(x) > 0 && len(x[0].Flags) > 0 {
			out := make([]execStartEx, len(x))
			for i, e := range x {
				out[i] = execStartEx{Path: e.Path, Argv: e.Argv, Flags: e.Flags}
			}
			return out, nil
		}
		out := make([]execStart, len(x))
		for i, e := range x {
			out[i] = execStart{Path: e.Path, Argv: e.Argv}
		}
		return out, nil
	case []units.Listen:
		out := make([]listen, len(x))
		for i, l := range x {
			out[i] = listen{l.Type, l.Address}
		}
		return out, nil
	case []units.BindPath:
		out := make([]bindPath, len(x))
		for i, b := range x {
			out[i] = bindPath{Source: b.Source, Destination: b.Destination, IgnoreMissing: b.IgnoreMissing}
			if b.Recursive {
				out[i].Flags = msRec
			}
		}
		return out, nil
	case []units.Credential:
		out := make([]credential, len(x))
		for i, c := range x {
			out[i] = credential{c.Name, c.Path}
		}
		return out, nil
	case []units.TmpFS:
		out := make([]tmpfs, len(x))
		for i, t := range x {
			out[i] = tmpfs{t.Path, t.Options}
		}
		return out, nil
	case units.NameList:
		return nameList{Allow: x.Allow, Names: x.Names}, nil
	default:
		return nil, fmt.Errorf("unsupported value type %T", v)
	}
}
