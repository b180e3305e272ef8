package gitops

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Overlay returns base with a change set applied, as a read-only file
// system: the repository as it will be once the plan's commit lands. The
// bot re-checks a plan against it, and a replay plans against it to show that
// nothing is left to change.
func Overlay(base fs.FS, changes []Change) fs.FS {
	o := &overlay{base: base, files: map[string][]byte{}}
	for _, c := range changes {
		o.files[c.Path] = c.New
	}
	return o
}

type overlay struct {
	base  fs.FS
	files map[string][]byte
}

func (o *overlay) ReadFile(name string) ([]byte, error) {
	if b, ok := o.files[name]; ok {
		return bytes.Clone(b), nil
	}
	return fs.ReadFile(o.base, name)
}

func (o *overlay) Open(name string) (fs.File, error) {
	if b, ok := o.files[name]; ok {
		return &memFile{name: path.Base(name), r: bytes.NewReader(b), size: int64(len(b))}, nil
	}
	return o.base.Open(name)
}

// ReadDir lists base's entries plus the files the change set adds.
func (o *overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(o.base, name)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Name()] = true
	}
	added := false
	for p, b := range o.files {
		dir, file := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		if dir == name && !seen[file] {
			entries = append(entries, fs.FileInfoToDirEntry(memInfo{name: file, size: int64(len(b))}))
			seen[file] = true
			added = true
		}
	}
	if err != nil && !added {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{name: f.name, size: f.size}, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

var _ io.Reader = (*memFile)(nil)

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
