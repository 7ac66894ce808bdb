// Package fleet is one host's agent in a fleet of tenement hosts
// coordinated through etcd (SPEC §12).
//
// Every host stays a systemd-native agent for its own tenants; etcd only
// says which host owns which instance, which hosts are alive, and holds
// what every host must agree on (token hashes, custom domains). There is
// no home-made consensus here: etcd's transactions, leases and watches do
// all of it.
//
// # Keys
//
// Everything of one fleet lives under /tenement/<cluster>/ (cluster: a DNS
// label, "default" unless configured), with JSON values:
//
//	hosts/<host>               {"addr":"10.0.0.5:8080","capacity":500,"placed":212,"awake":9,"started":"..."}
//	                           under the host's lease (TTL 10s): it disappears when the host stops renewing
//	placements/<service>:<id>  {"host":"h2","since":"..."}: exactly one owner per instance
//	tokens/<id>                {"hash":"sha256:...","tenant":"alice","description":"...","created_at":"..."}
//	domains/<domain>           {"instance":"notes:alice"}
//
// A token's secret never reaches etcd: only what the local store keeps (its
// hash and scope). `etcdctl get --prefix /tenement/default/` shows a fleet.
//
// # Liveness
//
// Each agent grants a lease of TTL (10s), puts its host key under it and
// keeps it alive; it rewrites the key when its load changes (instances
// placed here, awake ones). A host whose agent stops renewing (the host
// died, or lost etcd) disappears within the TTL; Close revokes the lease so
// that a clean stop is seen at once. A lost lease is granted anew as soon
// as etcd answers again.
//
// # Placement
//
// Place creates placements/<instance> in one transaction that succeeds
// only if the key does not exist (CreateRevision == 0): exactly one owner,
// however many hosts place the same instance at once. The owner is the
// named host or, by default, the live host with the most free capacity
// (capacity less the instances placed there; ties are broken at random so
// that hosts placing at the same moment spread). Capacity is a soft limit:
// a named host may go over it, and concurrent placements on the last free
// slot can too. Move rewrites the owner in one transaction that compares
// the placement's revision with the one the caller saw; Unplace deletes it.
// Nothing moves by itself: data is local to its host, so there is no
// automatic failover (an instance whose owner is dead stays placed there).
//
// # Reads come from a cache
//
// The agent reads the whole prefix once, then follows one watch from the
// next revision; Owner, Hosts, Placements, TokenByHash, Domain and the
// others answer from that cache without a call to etcd, so the proxy may
// ask for every request. The agent's own successful writes are applied to
// the cache at once (a caller reads its own writes); every entry carries
// the revision that wrote it, so an event that the watch delivers late
// never undoes a newer write.
//
// # Local sync
//
// With a Consumer (the daemon's supervisor), the agent keeps the local
// store in step: an instance placed here is registered asleep, one no
// longer placed here is forgotten (never purged). See Consumer.
//
// # When etcd is unreachable
//
// Reads keep answering from the cache (the last view: hosts do not expire
// in it, so every host goes on forwarding to the others, and serving its
// own instances). Writes fail with a one-line error of kind
// errdefs.ErrUnavailable, "fleet: etcd unreachable: place notes:bob: ...":
// the first within WriteTimeout (2s), the next ones at once while the
// client has no connection. When etcd returns, the client reconnects, the
// watch resumes from its revision (or the agent reads everything again if
// that revision was compacted), the lease is granted again, and writes
// work.
//
// # Tests
//
// The tests run against a real etcd: Debian's etcd-server binary (3.4, the
// server an operator installs with apt; scripts/deps unpacks it), as its
// own process, through internal/fleettest. The embedded server of
// go.etcd.io/etcd/server/v3 would put a large dependency tree into the
// module and run the server inside the test binary, where stopping it is
// not what an operator sees; a process is really stopped and restarted
// (refused connections, a lease that outlives the restart, a watch that
// resumes). The v3 API the agent uses (KV, Txn, Lease, Watch) is the same
// on 3.4 and on the client's 3.7.
package fleet
