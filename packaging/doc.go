// Package packaging holds the sources of tenement's .deb and .rpm: the
// systemd units tenement.service and tenement.socket, the default
// /etc/tenement/tenement.toml, the sysusers.d and tmpfiles.d entries, and
// the maintainer scripts (deb/, rpm/). nfpm.yaml at the repository root
// puts them together; `make package` builds both packages into dist/.
//
// The package has no Go code. Its tests build both packages once (TestMain,
// on the host), check what they contain, run Debian's lintian on the .deb,
// and then, inside a fresh systemd manager of internal/testbed, install the
// .deb as a user would: spawn tenants, restart the daemon under load,
// upgrade, terminate TLS with certificates from a local ACME CA (Pebble),
// remove and purge.
package packaging
