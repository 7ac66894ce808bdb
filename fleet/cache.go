package fleet

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/store"
)

// Host is a live host of the fleet, as its key says.
type Host struct {
	Name string
	// Addr is where peers reach the host's HTTP listener (host:port).
	Addr string
	// Capacity is how many instances may be placed on the host.
	Capacity int
	// Placed is how many instances are placed on the host (counted from
	// the placements, not taken from the host's report).
	Placed int
	// Awake is how many of them were awake at the host's last report.
	Awake int
	// Started is when the host's agent started.
	Started time.Time
	// Draining: the host is being drained (ten drain): the fleet places
	// nothing on it unless it is named.
	Draining bool
}

// Free is Capacity less Placed (negative when a host was over-filled).
func (h Host) Free() int { return h.Capacity - h.Placed }

// Placement says which host owns an instance.
type Placement struct {
	Instance names.Instance
	Host     string
	Since    time.Time
	// Revision is the etcd revision that wrote the placement.
	Revision int64
}

// changes says which tables an update touched.
type changes uint8

const (
	changedHosts changes = 1 << iota
	changedPlacements
	changedTokens
	changedDomains
)

// cache is the agent's copy of its cluster's keys, kept by one watch and
// by the agent's own successful writes (applied at once, so that a caller
// reads its own writes). Every entry remembers the revision that wrote
// it, and a deleted key its deletion's revision for a while (dead), so
// that an event the watch delivers late never undoes a newer write.
type cache struct {
	lay layout
	log *slog.Logger

	mu      sync.RWMutex
	revs    map[string]int64 // key -> ModRevision of the value held
	dead    map[string]int64 // deleted key -> revision of the deletion
	hosts   map[string]Host
	byIP    map[netip.Addr]string // a live host's advertised IP -> its name
	places  map[names.Instance]Placement
	perHost map[string]int
	tokens  map[string]store.Token
	byHash  map[string]string // token hash -> id
	domains map[string]Binding
}

func newCache(lay layout, log *slog.Logger) *cache {
	c := &cache{lay: lay, log: log}
	c.reset()
	return c
}

func (c *cache) reset() {
	c.revs, c.dead = map[string]int64{}, map[string]int64{}
	c.hosts, c.places, c.perHost = map[string]Host{}, map[names.Instance]Placement{}, map[string]int{}
	c.byIP = map[netip.Addr]string{}
	c.tokens, c.byHash, c.domains = map[string]store.Token{}, map[string]string{}, map[string]Binding{}
}

// kv is one key's new state: a value at a revision, or its deletion.
type kv struct {
	key     string
	value   []byte
	rev     int64
	deleted bool
}

// replace loads a full snapshot (a resync), dropping everything else.
func (c *cache) replace(kvs []kv) changes {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
	var ch changes
	for _, e := range kvs {
		ch |= c.applyLocked(e)
	}
	return ch | changedHosts | changedPlacements | changedTokens | changedDomains
}

// apply applies updates from the watch or from the agent's own writes.
func (c *cache) apply(kvs ...kv) changes {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ch changes
	for _, e := range kvs {
		ch |= c.applyLocked(e)
	}
	return ch
}

// holds reports whether the cache has a value for key.
func (c *cache) holds(key string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.revs[key]
	return ok
}

// forget drops the deletion marks up to rev: the watch has delivered every
// event up to there, so no older event can arrive any more.
func (c *cache) forget(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, r := range c.dead {
		if r <= rev {
			delete(c.dead, k)
		}
	}
}

func (c *cache) applyLocked(e kv) changes {
	if r, ok := c.revs[e.key]; ok && r >= e.rev {
		return 0
	}
	if r, ok := c.dead[e.key]; ok && r >= e.rev {
		return 0
	}
	dir, name, ok := c.lay.split(e.key)
	if !ok {
		return 0
	}
	c.drop(dir, name)
	delete(c.revs, e.key)
	delete(c.dead, e.key)
	if e.deleted {
		c.dead[e.key] = e.rev
	} else {
		c.revs[e.key] = e.rev
		if err := c.add(dir, name, e.value, e.rev); err != nil {
			c.log.Warn("ignoring a key with a value it cannot read", "key", e.key, "err", err)
		}
	}
	return dirChange(dir)
}

func dirChange(dir string) changes {
	switch dir {
	case dirHosts:
		return changedHosts
	case dirPlacements:
		return changedPlacements
	case dirTokens:
		return changedTokens
	}
	return changedDomains
}

// drop removes a key's decoded value from its table.
func (c *cache) drop(dir, name string) {
	switch dir {
	case dirHosts:
		if h, ok := c.hosts[name]; ok {
			if ip, ok := addrIP(h.Addr); ok && c.byIP[ip] == name {
				delete(c.byIP, ip)
			}
			delete(c.hosts, name)
		}
	case dirPlacements:
		n, err := names.Parse(name)
		if p, ok := c.places[n]; err == nil && ok {
			delete(c.places, n)
			if c.perHost[p.Host]--; c.perHost[p.Host] <= 0 {
				delete(c.perHost, p.Host)
			}
		}
	case dirTokens:
		if t, ok := c.tokens[name]; ok {
			delete(c.tokens, name)
			if c.byHash[t.Hash] == name {
				delete(c.byHash, t.Hash)
			}
		}
	case dirDomains:
		delete(c.domains, name)
	}
}

// add decodes a key's value into its table.
func (c *cache) add(dir, name string, value []byte, rev int64) error {
	switch dir {
	case dirHosts:
		var v hostValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		c.hosts[name] = Host{Name: name, Addr: v.Addr, Capacity: v.Capacity, Awake: v.Awake, Started: v.Started, Draining: v.Draining}
		if ip, ok := addrIP(v.Addr); ok {
			c.byIP[ip] = name
		}
	case dirPlacements:
		n, err := names.Parse(name)
		if err != nil {
			return err
		}
		var v placementValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		c.places[n] = Placement{Instance: n, Host: v.Host, Since: v.Since, Revision: rev}
		c.perHost[v.Host]++
	case dirTokens:
		var v tokenValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		c.tokens[name] = tokenFrom(name, v)
		c.byHash[v.Hash] = name
	case dirDomains:
		var v domainValue
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		n, err := names.Parse(v.Instance)
		if err != nil {
			return err
		}
		c.domains[name] = Binding{Domain: name, Instance: n, CreatedAt: v.CreatedAt}
	}
	return nil
}

// addrIP returns the IP of an address host:port whose host is an IP
// literal (a name has none: its host is not recognised by address).
func addrIP(addr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
