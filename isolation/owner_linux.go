package isolation

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ensureOwner makes uid:gid own dir and everything in it, when dir's owner
// differs (a dynamic UID can change between runs; when it does not, this
// costs one lstat). Symbolic links are changed themselves, never followed.
// A file with more than one link that the previous owner does not own is
// left alone: it may be a hard link to a file outside the dir (possible
// where fs.protected_hardlinks is off). dir itself is changed last, so a
// walk cut short is done again next time.
func ensureOwner(dir string, uid, gid int) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !fi.IsDir() {
		return fmt.Errorf("data dir %s: not a directory", dir)
	}
	if int(st.Uid) == uid && int(st.Gid) == gid {
		return nil
	}
	prev := st.Uid
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if !d.IsDir() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 && st.Uid != prev {
				return nil
			}
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("data dir: give it to uid %d: %w", uid, err)
	}
	if err := os.Lchown(dir, uid, gid); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// Only its tenant may enter it.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	return nil
}
