package apply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Checkout bounds: a GitOps repository is small; these stop a runaway one
// from filling the disk.
const (
	MaxCheckoutFiles = 50000
	MaxCheckoutBytes = 1 << 30
)

// materialize writes the files of src (the repository at a commit) under
// dir. Regular files keep their executable bit; symbolic links are made
// only when they stay inside the tree (a link to /etc/passwd or ../.. would
// let a terraform file() read the host); submodules are skipped. Nothing
// but the files is written: no .git, no credentials.
func materialize(src fs.FS, dir string, log *logSink) (files int, err error) {
	var total int64
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		switch {
		case mode.IsDir():
			return os.Mkdir(target, 0o755)
		case mode&fs.ModeSymlink != 0:
			dest, err := readLink(src, p)
			if err != nil {
				return err
			}
			resolved := path.Join(path.Dir(p), dest)
			if path.IsAbs(dest) || resolved == ".." || strings.HasPrefix(resolved, "../") {
				return fmt.Errorf("%s is a symbolic link out of the repository (%s); refusing to check it out", p, dest)
			}
			files++
			return os.Symlink(dest, target)
		case !mode.IsRegular():
			log.linef("skipping %s (%s: submodules are not checked out)", p, mode.Type())
			return nil
		}
		files++
		if files > MaxCheckoutFiles {
			return fmt.Errorf("the repository has more than %d files", MaxCheckoutFiles)
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		total += int64(len(data))
		if total > MaxCheckoutBytes {
			return fmt.Errorf("the repository is larger than %d bytes", MaxCheckoutBytes)
		}
		perm := fs.FileMode(0o644)
		if mode&0o111 != 0 {
			perm = 0o755
		}
		return os.WriteFile(target, data, perm)
	})
	if err != nil {
		return files, fmt.Errorf("checkout: %w", err)
	}
	return files, nil
}

// removeAll deletes a run's directory, making read-only directories
// writable first (terraform providers sometimes unpack read-only trees).
func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// readLink is a symbolic link's target: fs.ReadLinkFS where the FS has it,
// else the entry's content (a git blob of mode 120000 holds the target, as
// forge's Snapshot serves it).
func readLink(src fs.FS, p string) (string, error) {
	if rl, ok := src.(fs.ReadLinkFS); ok {
		return rl.ReadLink(p)
	}
	b, err := fs.ReadFile(src, p)
	return string(b), err
}
