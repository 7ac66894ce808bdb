// Package credentials keeps the secrets tenement hands to instances as
// systemd credentials: one file per secret under settings.credentials_dir,
//
//	{credentials_dir}/{service}/NAME        every instance of the service
//	{credentials_dir}/{service}/{id}/NAME   one instance (wins over the service's)
//
// which units load with LoadCredential=, so an app reads its secret from
// $CREDENTIALS_DIRECTORY/NAME and no other unit, user or D-Bus caller can.
// Unlike a service's env, which is a unit's Environment= (readable by any
// local user over D-Bus and in /run/systemd/transient), nothing here is
// ever in a unit's properties.
//
// Files are 0600 and directories 0700, owned by root when the daemon runs
// as root. A value is written to a temporary file in the same directory,
// synced, and renamed over the old one: a unit starting meanwhile loads the
// old value or the new one, never half of one. Every path is opened inside
// the credentials directory (os.Root), so no symlink can lead a write
// outside it. A changed credential reaches an instance at its next start.
//
// Targets, names and sizes follow the API's rules (apitype): the daemon
// stores what its API accepts.
package credentials

import (
	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/names"
)

// Target is what a credential belongs to: a service or one instance.
type Target = apitype.CredentialTarget

// forInstance is the target of one instance.
func forInstance(n names.Instance) Target { return Target{Service: n.Service, ID: n.ID} }

// forService is the target of every instance of t's service.
func forService(t Target) Target { return Target{Service: t.Service} }

// dir returns a target's directory, relative to the credentials dir.
func dir(t Target) string {
	if t.ID == "" {
		return t.Service
	}
	return t.Service + "/" + t.ID
}
