package fleetops

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/tenement/tenement/apitype"
)

// The tar stream of a move: the instance's data dir under "data/" (its
// directories, regular files and symbolic links, with their permission
// bits and times; nothing else), then its own credentials under
// "credentials/NAME".
//
// Both ends treat the data as hostile: a tenant wrote it. The sender reads
// it through an os.Root (a symbolic link cannot lead the walk, or a file
// opened by name, out of the data dir) and sends nothing but those three
// kinds. The receiver writes into a new directory through an os.Root (no
// entry, and no symbolic link an earlier entry made, can place a file
// outside it), creates every file anew (O_EXCL), and keeps only the
// permission bits: no set-user-ID or set-group-ID file written by a
// tenant reaches another host, where root would own it.

const (
	tarData  = "data"
	tarCreds = "credentials"
)

// writeTar writes the data dir dir (missing: an empty one) and creds to w.
func writeTar(w io.Writer, dir string, creds map[string][]byte) error {
	tw := tar.NewWriter(w)
	if err := writeData(tw, dir); err != nil {
		return err
	}
	for name, v := range creds {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: tarCreds + "/" + name, Mode: 0o600, Size: int64(len(v))}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(v); err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeData(tw *tar.Writer, dir string) error {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: tarData + "/", Mode: 0o700})
	}
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return err
		}
		name := path.Join(tarData, p)
		h := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, name+"/"
			return tw.WriteHeader(h)
		case fi.Mode()&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			if h.Linkname, err = root.Readlink(p); err != nil {
				return err
			}
			return tw.WriteHeader(h)
		case fi.Mode().IsRegular():
			return writeFile(tw, root, p, h)
		}
		return nil // a socket, a FIFO, a device: not data
	})
}

// writeFile writes one regular file, opened through root.
func writeFile(tw *tar.Writer, root *os.Root, p string, h *tar.Header) error {
	f, err := root.OpenFile(p, os.O_RDONLY|syscallNoFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("data dir: %s changed while it was read", p)
	}
	h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, h.Size); err != nil {
		return fmt.Errorf("data dir: %s: %w", p, err)
	}
	return nil
}

// readTar writes the data of a tar stream into the new directory dir
// (which must not exist) and returns the credentials it carried, and the
// data dir's own permission bits.
func readTar(r io.Reader, dir string) (creds map[string][]byte, mode fs.FileMode, err error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	creds, mode = map[string][]byte{}, 0o700
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return creds, mode, nil
		}
		if err != nil {
			return nil, 0, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		switch {
		case name == tarData && h.Typeflag == tar.TypeDir:
			mode = h.FileInfo().Mode().Perm()
		case strings.HasPrefix(name, tarData+"/"):
			err = readEntry(root, tr, h, strings.TrimPrefix(name, tarData+"/"))
		case strings.HasPrefix(name, tarCreds+"/"):
			err = readCredential(tr, h, strings.TrimPrefix(name, tarCreds+"/"), creds)
		default:
			err = fmt.Errorf("unexpected entry %q", h.Name)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("tar: %w", err)
		}
	}
}

// readEntry writes one entry of the data dir, through root.
func readEntry(root *os.Root, tr *tar.Reader, h *tar.Header, rel string) error {
	if !fs.ValidPath(rel) || rel == "." {
		return fmt.Errorf("entry %q: not a path inside the data dir", h.Name)
	}
	perm := h.FileInfo().Mode().Perm()
	switch h.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(rel, 0o700); err != nil {
			return err
		}
		return root.Chmod(rel, perm)
	case tar.TypeSymlink:
		return root.Symlink(h.Linkname, rel)
	case tar.TypeReg:
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err == nil {
			err = f.Chmod(perm)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && !h.ModTime.IsZero() {
			err = root.Chtimes(rel, h.ModTime, h.ModTime)
		}
		return err
	}
	return fmt.Errorf("entry %q: type %q is not data", h.Name, h.Typeflag)
}

// readCredential reads one credential of the instance.
func readCredential(tr *tar.Reader, h *tar.Header, name string, creds map[string][]byte) error {
	if err := apitype.ValidateCredentialName(name); err != nil || h.Typeflag != tar.TypeReg {
		return fmt.Errorf("entry %q: not a credential", h.Name)
	}
	if h.Size > apitype.MaxCredentialSize {
		return apitype.ErrCredentialTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(tr, apitype.MaxCredentialSize+1))
	if err != nil {
		return err
	}
	creds[name] = b
	return nil
}
