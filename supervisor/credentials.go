package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
	"github.com/tenement/tenement/units"
)

// credentials returns the credentials of instance n, which its unit gets
// with LoadCredential= (secrets never go through Environment=, which any
// local user can read over D-Bus; see package credentials): the regular files
// {dir}/{service}/NAME, for every instance of the service, and
// {dir}/{service}/{id}/NAME, for this one, whose file wins over the
// service's of the same name. A missing directory has none.
//
// It runs at every start, so a credential set or removed is seen on the
// next wake. It reads the two directories and nothing else (two opens and
// a few getdents; the entries' types come from getdents): no walk of dir,
// whatever the number of tenants. A file with an invalid name (placed by
// hand: `ten credential` checks names) is left out with a warning, as is
// anything that is not a regular file (a symlink could point anywhere).
func credentials(dir string, n names.Instance, log *slog.Logger) ([]units.Credential, error) {
	svcDir := filepath.Join(dir, n.Service)
	shared, err := credentialFiles(svcDir, n, log)
	if err != nil {
		return nil, err
	}
	own, err := credentialFiles(filepath.Join(svcDir, n.ID), n, log)
	if err != nil {
		return nil, err
	}
	out := own
	for _, c := range shared {
		if !slices.ContainsFunc(own, func(o units.Credential) bool { return o.Name == c.Name }) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b units.Credential) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// credentialFiles lists the credentials in one directory.
func credentialFiles(dir string, n names.Instance, log *slog.Logger) ([]units.Credential, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: credentials of %s: %w", errdefs.ErrUnavailable, n, err)
	}
	var out []units.Credential
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // an instance's dir, or not a file
		}
		if err := units.CheckCredentialName(e.Name()); err != nil {
			log.Warn("credential file left out", "instance", n.String(), "path", filepath.Join(dir, e.Name()), "err", err)
			continue
		}
		out = append(out, units.Credential{Name: e.Name(), Path: filepath.Join(dir, e.Name())})
	}
	return out, nil
}
