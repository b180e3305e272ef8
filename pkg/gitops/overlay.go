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
// nothing is left to change. A change whose New is nil (and Old is not)
// deletes its file; directories that only the change set creates are listed.
func Overlay(base fs.FS, changes []Change) fs.FS {
	o := &overlay{base: base, files: map[string][]byte{}, gone: map[string]bool{}, dirs: map[string]bool{}}
	for _, c := range changes {
		if c.Deletes() {
			o.gone[c.Path] = true
			delete(o.files, c.Path)
			continue
		}
		delete(o.gone, c.Path)
		o.files[c.Path] = c.New
		for d := path.Dir(c.Path); d != "."; d = path.Dir(d) {
			o.dirs[d] = true
		}
	}
	return o
}

type overlay struct {
	base  fs.FS
	files map[string][]byte
	gone  map[string]bool
	dirs  map[string]bool // directories holding an added file
}

func notExist(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist} }

func (o *overlay) ReadFile(name string) ([]byte, error) {
	if b, ok := o.files[name]; ok {
		return bytes.Clone(b), nil
	}
	if o.gone[name] {
		return nil, notExist("read", name)
	}
	return fs.ReadFile(o.base, name)
}

func (o *overlay) Open(name string) (fs.File, error) {
	if b, ok := o.files[name]; ok {
		return &memFile{name: path.Base(name), r: bytes.NewReader(b), size: int64(len(b))}, nil
	}
	if o.gone[name] {
		return nil, notExist("open", name)
	}
	f, err := o.base.Open(name)
	if err != nil && o.dirs[name] {
		return &memDir{name: path.Base(name)}, nil
	}
	return f, err
}

// ReadDir lists base's entries plus what the change set adds, minus what it
// deletes.
func (o *overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(o.base, name)
	if err != nil && !o.dirs[name] {
		return nil, err
	}
	seen := map[string]bool{}
	out := entries[:0:0]
	for _, e := range entries {
		if o.gone[path.Join(name, e.Name())] {
			continue
		}
		seen[e.Name()] = true
		out = append(out, e)
	}
	addEntry := func(p string, info fs.FileInfo) {
		dir, file := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		if dir == name && !seen[file] {
			out = append(out, fs.FileInfoToDirEntry(info))
			seen[file] = true
		}
	}
	for p, b := range o.files {
		addEntry(p, memInfo{name: path.Base(p), size: int64(len(b))})
	}
	for d := range o.dirs {
		addEntry(d, memInfo{name: path.Base(d), dir: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
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

type memDir struct{ name string }

func (d *memDir) Stat() (fs.FileInfo, error) { return memInfo{name: d.name, dir: true}, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
}
func (d *memDir) Close() error { return nil }

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
