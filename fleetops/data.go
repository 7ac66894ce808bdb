package fleetops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/config"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// ImportData takes the data of an instance that moves here (a tar stream,
// as writeTar makes it): written into a new directory beside its data
// dir, given to the instance's owner on this host, then swapped in whole,
// so that a copy cut short leaves no half of it; its own credentials are
// stored with it. It refuses an instance that lives here or that this
// host knows: their data is not replaced.
func (o *Ops) ImportData(ctx context.Context, n names.Instance, r io.Reader) (int64, error) {
	svc := o.local.ServiceConfig(n.Service)
	if svc == nil {
		return 0, fmt.Errorf("%w: service %q is not configured on this host", errdefs.ErrNotFound, n.Service)
	}
	if err := o.mayReplace(n); err != nil {
		return 0, err
	}
	done := o.busy.add(n)
	defer done()
	dir := o.local.DataDir(n)
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return 0, fmt.Errorf("data dir: %w", err)
	}
	tmp := sibling(dir, ".incoming-")
	defer os.RemoveAll(tmp)
	cr := &countingReader{r: r}
	creds, mode, err := readTar(cr, tmp)
	if err == nil {
		err = giveTo(tmp, mode, svc)
	}
	if err == nil {
		err = swapIn(tmp, dir)
	}
	if err != nil {
		return cr.n, fmt.Errorf("import the data of %s: %w", n, err)
	}
	for name, v := range creds {
		if err := o.creds.Set(apitype.CredentialTarget{Service: n.Service, ID: n.ID}, name, v); err != nil {
			return cr.n, fmt.Errorf("import the credentials of %s: %w", n, err)
		}
	}
	o.log.Info("took the data of an instance moving here", "instance", n.String(), "bytes", cr.n, "credentials", len(creds))
	return cr.n, nil
}

// DropData removes the copy of an instance's data that a failed move left
// here, with its credentials; refused for an instance that lives here or
// that this host knows.
func (o *Ops) DropData(_ context.Context, n names.Instance) error {
	if err := o.mayReplace(n); err != nil {
		return err
	}
	if err := os.RemoveAll(o.local.DataDir(n)); err != nil {
		return fmt.Errorf("drop the data of %s: %w", n, err)
	}
	return o.creds.Forget(n)
}

// mayReplace refuses to replace the data of an instance that lives here,
// or that this host still knows.
func (o *Ops) mayReplace(n names.Instance) error {
	if own, ok := o.agent.Owner(n); ok && own.Local {
		return fmt.Errorf("%w: %s lives on this host: its data is not replaced", errdefs.ErrConflict, n)
	}
	if o.local.Known(n) || o.busy.has(n) {
		return fmt.Errorf("%w: this host still has %s: its data is not replaced", errdefs.ErrConflict, n)
	}
	return nil
}

// giveTo gives an imported data dir its mode and owner: the service's
// user owns everything of a "process" service with a user; root owns the
// rest (the isolation wrapper gives a dynamic user its dir when the
// instance starts).
func giveTo(dir string, mode fs.FileMode, svc *config.Service) error {
	if err := os.Chmod(dir, svc.DataDirMode()&(mode|0o700)); err != nil {
		return err
	}
	uid, gid, ok, err := svc.DataDirOwner()
	if err != nil || !ok {
		return err
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// swapIn replaces dir with tmp: the old dir (a stale copy) is moved aside
// and removed.
func swapIn(tmp, dir string) error {
	old := sibling(dir, ".old-")
	if err := os.Rename(dir, old); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// sibling returns a new name beside dir: prefix, dir's base, random.
func sibling(dir, prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return filepath.Join(filepath.Dir(dir), prefix+filepath.Base(dir)+"-"+hex.EncodeToString(b))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
