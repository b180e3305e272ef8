package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File keeps one JSON file per secret under a directory: the secret
// goldenpath/dev/orders/postgres is <dir>/goldenpath/dev/orders/postgres.json.
// Files are written with mode 0600 (directories 0700), atomically (a temporary
// file renamed into place); a file readable by group or others is refused
// rather than trusted. The version id is the first 32 hex digits of the
// content's SHA-256, so a hand edit is a new version.
type File struct{ dir string }

// NewFile returns a store rooted at dir, which is created if missing.
func NewFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("secrets: file store needs a directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return &File{dir: dir}, nil
}

// Dir is the store's directory.
func (f *File) Dir() string { return f.dir }

// Path is the file that holds the named secret.
func (f *File) Path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w %q: empty, . and .. path segments are not allowed in the file store", ErrInvalidName, name)
		}
	}
	return filepath.Join(f.dir, filepath.FromSlash(name)+".json"), nil
}

func fileVersion(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (f *File) read(name string) ([]byte, error) {
	p, err := f.Path(name)
	if err != nil {
		return nil, err
	}
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret %s: %s is readable by group or others (mode %04o); chmod 600 it", name, p, fi.Mode().Perm())
	}
	if fi.Size() > MaxValueSize {
		return nil, fmt.Errorf("secret %s: %s is larger than %d bytes", name, p, MaxValueSize)
	}
	b := make([]byte, fi.Size())
	if _, err := fh.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return b, nil
}

// Describe implements Store (it reads the file to digest it).
func (f *File) Describe(_ context.Context, name string) (*Metadata, error) {
	b, err := f.read(name)
	if err != nil {
		return nil, err
	}
	return &Metadata{Name: name, VersionID: fileVersion(b)}, nil
}

// Get implements Store.
func (f *File) Get(_ context.Context, name string) (*Secret, error) {
	b, err := f.read(name)
	if err != nil {
		return nil, err
	}
	return &Secret{Name: name, VersionID: fileVersion(b), Value: string(b)}, nil
}

// Create implements Store: the new file is linked into place, which fails if
// the name exists, so two creators never overwrite each other.
func (f *File) Create(_ context.Context, name, value string, _ CreateOptions) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	p, err := f.Path(name)
	if err != nil {
		return nil, err
	}
	tmp, err := f.writeTemp(p, value)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%s: %w", name, ErrExists)
		}
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return &Metadata{Name: name, VersionID: fileVersion([]byte(value))}, nil
}

// Put implements Store.
func (f *File) Put(_ context.Context, name, value string) (*Metadata, error) {
	if err := checkValue(name, value); err != nil {
		return nil, err
	}
	p, err := f.Path(name)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Name: name}
	}
	tmp, err := f.writeTemp(p, value)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return &Metadata{Name: name, VersionID: fileVersion([]byte(value))}, nil
}

// writeTemp writes value to a new 0600 file beside p and syncs it.
func (f *File) writeTemp(p, value string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	fh, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("secrets: %w", err)
	}
	name := fh.Name()
	// CreateTemp already uses 0600; Chmod guards against an odd umask.
	err = fh.Chmod(0o600)
	if err == nil {
		_, err = fh.WriteString(value)
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("secrets: %w", err)
	}
	return name, nil
}
