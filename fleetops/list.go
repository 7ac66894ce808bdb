package fleetops

import (
	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/supervisor"
)

// List returns the instances of the whole fleet that opts selects, ordered
// by name, and the next page's cursor: this host's from its supervisor
// (their state, memory, everything), the other hosts' from the placements
// in the agent's cache (their host and whether it is live; their state is
// "unknown": it is known on their host). A state filter other than
// "unknown" selects this host's only. Nothing asks another host.
func (i *instances) List(opts supervisor.ListOptions) ([]supervisor.Info, names.Instance) {
	local, next := i.Local.List(opts)
	mine := local[:0]
	for _, info := range local {
		if own, ok := i.o.agent.Owner(info.Instance); ok && !own.Local {
			continue // moved away a moment ago: the placement says where
		}
		info.Host = i.o.self
		mine = append(mine, info)
	}
	var remote []supervisor.Info
	if opts.State == "" || opts.State == apitype.StateUnknown {
		remote = i.remote(opts)
	}
	if len(remote) == 0 && len(mine) == len(local) {
		return mine, next
	}
	all := merge(mine, remote)
	if opts.Limit > 0 && (len(all) > opts.Limit || !next.IsZero()) {
		all = all[:min(opts.Limit, len(all))]
		return all, all[len(all)-1].Instance
	}
	return all, names.Instance{}
}

// remote returns the other hosts' instances that opts selects, ordered,
// at most opts.Limit of them.
func (i *instances) remote(opts supervisor.ListOptions) []supervisor.Info {
	live := map[string]bool{}
	for _, h := range i.o.agent.Hosts() {
		live[h.Name] = true
	}
	var out []supervisor.Info
	for _, p := range i.o.agent.Placements() {
		n := p.Instance
		switch {
		case p.Host == i.o.self,
			opts.Service != "" && n.Service != opts.Service,
			!opts.After.IsZero() && !opts.After.Less(n),
			opts.Only != nil && !opts.Only(n):
			continue
		}
		out = append(out, remoteInfo(n, p.Host, live[p.Host]))
		if opts.Limit > 0 && len(out) > opts.Limit {
			break // one more than a page says that more follow
		}
	}
	return out
}

// merge merges two lists ordered by name.
func merge(a, b []supervisor.Info) []supervisor.Info {
	out := make([]supervisor.Info, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].Instance.Less(a[0].Instance) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}
