package credentials

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/tenement/tenement/apitype"
	"github.com/tenement/tenement/errdefs"
	"github.com/tenement/tenement/names"
)

// Dir is the credentials directory (settings.credentials_dir).
type Dir struct {
	Path string
}

// File is a credential an instance receives: its name and its file.
type File struct {
	Name string
	Path string
}

// Set stores a credential's value for a target, replacing the old one
// atomically.
func (d Dir) Set(t Target, name string, value []byte) error {
	if err := apitype.ValidateCredentialName(name); err != nil {
		return err
	}
	if len(value) > apitype.MaxCredentialSize {
		return apitype.ErrCredentialTooLarge
	}
	root, err := d.open(true)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := makeDirs(root, t); err != nil {
		return err
	}
	rel := path.Join(dir(t), name)
	if st, err := root.Lstat(rel); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%w: credential %s of %s: an instance's credentials directory has that name", errdefs.ErrConflict, name, t)
	}
	return writeAtomic(root, dir(t), name, value)
}

// Remove deletes one credential of a target; ErrNotFound when it has none
// of that name.
func (d Dir) Remove(t Target, name string) error {
	if err := apitype.ValidateCredentialName(name); err != nil {
		return err
	}
	root, err := d.open(false)
	if err != nil {
		return err
	}
	defer root.Close()
	rel := path.Join(dir(t), name)
	if st, err := root.Lstat(rel); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%w: credential %s of %s", errdefs.ErrNotFound, name, t)
	}
	if err := root.Remove(rel); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return syncDir(root, dir(t))
}

// Forget removes every credential of one instance (its directory), so
// that a later instance of the same name does not inherit them. An
// instance without credentials is not an error.
func (d Dir) Forget(n names.Instance) error {
	root, err := d.open(false)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer root.Close()
	own := dir(forInstance(n))
	if st, err := root.Lstat(own); err != nil || !st.IsDir() {
		return nil
	}
	if err := root.RemoveAll(own); err != nil {
		return fmt.Errorf("credentials: forget %s: %w", n, err)
	}
	return syncDir(root, n.Service)
}

// List describes a target's credentials, by name. For an instance it lists
// what the instance receives: its own, and its service's that it does not
// override.
func (d Dir) List(t Target) ([]apitype.Credential, error) {
	root, err := d.open(false)
	if errors.Is(err, errdefs.ErrNotFound) {
		return []apitype.Credential{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	byName := map[string]apitype.Credential{}
	if err := list(root, forService(t), apitype.ScopeService, byName); err != nil {
		return nil, err
	}
	if t.ID != "" {
		if err := list(root, t, apitype.ScopeInstance, byName); err != nil {
			return nil, err
		}
	}
	out := make([]apitype.Credential, 0, len(byName))
	for _, i := range byName {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Files returns the credentials an instance receives, by name, with their
// files (for LoadCredential=): its own, and its service's that it does not
// override.
func (d Dir) Files(n names.Instance) ([]File, error) {
	infos, err := d.List(forInstance(n))
	if err != nil {
		return nil, err
	}
	out := make([]File, len(infos))
	for i, info := range infos {
		from := Target{Service: n.Service}
		if info.Scope == apitype.ScopeInstance {
			from = forInstance(n)
		}
		out[i] = File{Name: info.Name, Path: filepath.Join(d.Path, filepath.FromSlash(dir(from)), info.Name)}
	}
	return out, nil
}

// open opens the credentials directory, creating it (0700) when create is
// set; without it, a missing directory is ErrNotFound.
func (d Dir) open(create bool) (*os.Root, error) {
	if !filepath.IsAbs(d.Path) {
		return nil, fmt.Errorf("%w: credentials dir %q is not absolute", errdefs.ErrInvalid, d.Path)
	}
	if create {
		if err := os.MkdirAll(d.Path, 0o700); err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
	}
	root, err := os.OpenRoot(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: credentials dir %s", errdefs.ErrNotFound, d.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if create {
		if err := private(root, "."); err != nil {
			root.Close()
			return nil, err
		}
	}
	return root, nil
}

// list adds the regular files of t's directory to byName, as scope.
func list(root *os.Root, t Target, scope string, byName map[string]apitype.Credential) error {
	f, err := root.Open(dir(t))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || apitype.ValidateCredentialName(e.Name()) != nil {
			continue // an instance's directory, a temporary file
		}
		st, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		byName[e.Name()] = apitype.Credential{Name: e.Name(), Size: st.Size(), Modified: st.ModTime().UTC(), Scope: scope}
	}
	return nil
}

// makeDirs creates the target's directories, 0700, and makes existing ones
// 0700.
func makeDirs(root *os.Root, t Target) error {
	dirs := []string{t.Service}
	if t.ID != "" {
		dirs = append(dirs, dir(t))
	}
	for _, dir := range dirs {
		err := root.Mkdir(dir, 0o700)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("credentials: %w", err)
		}
		st, err := root.Lstat(dir)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("%w: credentials of %s: %s is a credential of service %s, not a directory",
				errdefs.ErrConflict, t, path.Base(dir), t.Service)
		}
		if err := private(root, dir); err != nil {
			return err
		}
	}
	return nil
}

// private makes a directory 0700 and root's (when the daemon is root).
func private(root *os.Root, dir string) error {
	if err := root.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return own(root, dir)
}

func own(root *os.Root, name string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := root.Lchown(name, 0, 0); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// writeAtomic writes value to dir/name through a temporary file in dir
// (whose name is not a valid credential name, so no one lists or loads
// it), synced before the rename and the directory after.
func writeAtomic(root *os.Root, dir, name string, value []byte) error {
	var b [8]byte
	rand.Read(b[:])
	tmp := path.Join(dir, ".tmp#"+hex.EncodeToString(b[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	_, err = f.Write(value)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = own(root, tmp)
	}
	if err == nil {
		err = root.Rename(tmp, path.Join(dir, name))
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("credentials: write %s: %w", name, err)
	}
	return syncDir(root, dir)
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("credentials: sync %s: %w", dir, err)
	}
	return nil
}
