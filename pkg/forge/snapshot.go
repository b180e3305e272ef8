package forge

import (
	"bytes"
	"container/list"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
)

// Snapshot is a read-only view of a repository at one commit, as an fs.FS
// (also ReadFileFS, ReadDirFS and StatFS). The tree is listed once per
// commit (one recursive tree call); file contents are fetched lazily, by
// blob id, on first read. Both are immutable, so they are cached for the
// life of the Client: planning again on the same commit costs no calls, and
// after the base moves only the files that changed are fetched again.
// "Not found" costs nothing: the listing already says so.
//
// Reads use the context the snapshot was made with (see WithContext).
type Snapshot struct {
	Repo    string
	SHA     string // the commit
	TreeSHA string // its root tree

	ctx         context.Context
	c           *Client
	owner, name string
	ix          *treeIndex
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Snapshot resolves ref (a branch name, "heads/x", "tags/x", "refs/..." or
// a commit id) and returns the repository at that commit. Resolving a branch
// costs one call (a 304 when it has not moved); a commit id costs none.
func (c *Client) Snapshot(ctx context.Context, repo, ref string) (*Snapshot, error) {
	sha, err := c.ResolveRef(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	return c.SnapshotAt(ctx, repo, sha)
}

// SnapshotAt returns the repository at a commit id.
func (c *Client) SnapshotAt(ctx context.Context, repo, sha string) (*Snapshot, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	ix, err := c.snaps.index(ctx, c, owner, name, strings.ToLower(sha))
	if err != nil {
		return nil, err
	}
	return &Snapshot{Repo: repo, SHA: ix.commit, TreeSHA: ix.root, ctx: ctx, c: c, owner: owner, name: name, ix: ix}, nil
}

// ResolveRef returns the commit a ref points at. A 40-hex commit id is
// returned as it is.
func (c *Client) ResolveRef(ctx context.Context, repo, ref string) (string, error) {
	if shaRE.MatchString(strings.ToLower(ref)) {
		return strings.ToLower(ref), nil
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	r, _, err := c.gh.Git.GetRef(ctx, owner, name, refPath(ref))
	if err != nil {
		return "", wrap(fmt.Sprintf("resolve %s in %s", ref, repo), err)
	}
	return r.GetObject().GetSHA(), nil
}

// refPath turns a branch name or ref into the "heads/x" form of the refs API.
func refPath(ref string) string {
	ref = strings.TrimPrefix(ref, "refs/")
	if strings.HasPrefix(ref, "heads/") || strings.HasPrefix(ref, "tags/") {
		return ref
	}
	return "heads/" + ref
}

// WithContext returns the snapshot reading with another context.
func (s *Snapshot) WithContext(ctx context.Context) *Snapshot {
	out := *s
	out.ctx = ctx
	return &out
}

// Open implements fs.FS.
func (s *Snapshot) Open(name string) (fs.File, error) {
	e, err := s.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e.typ == "tree" {
		entries, err := s.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &dirFile{info: e.info(), entries: entries}, nil
	}
	data, err := s.read("open", name, e)
	if err != nil {
		return nil, err
	}
	return &memFile{info: e.info(), r: bytes.NewReader(data)}, nil
}

// ReadFile implements fs.ReadFileFS. The bytes are the caller's.
func (s *Snapshot) ReadFile(name string) ([]byte, error) {
	e, err := s.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if e.typ == "tree" {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := s.read("read", name, e)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(data), nil
}

// ReadDir implements fs.ReadDirFS: entries sorted by name.
func (s *Snapshot) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	dir := name
	if dir == "." {
		dir = ""
	}
	l, err := s.ix.dir(s.ctx, s.fetchTree, dir)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, fs.FileInfoToDirEntry(e.info()))
	}
	return out, nil
}

// Stat implements fs.StatFS.
func (s *Snapshot) Stat(name string) (fs.FileInfo, error) {
	e, err := s.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return e.info(), nil
}

func (s *Snapshot) lookup(op, name string) (treeEntry, error) {
	if !fs.ValidPath(name) {
		return treeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return treeEntry{name: ".", typ: "tree", mode: "040000", sha: s.TreeSHA}, nil
	}
	e, ok, err := s.ix.entry(s.ctx, s.fetchTree, name)
	if err != nil {
		return treeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if !ok {
		return treeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

func (s *Snapshot) read(op, name string, e treeEntry) ([]byte, error) {
	if e.typ != "blob" {
		return nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%s entry has no content", e.typ)}
	}
	data, err := s.c.snaps.blob(s.ctx, s.c, s.owner, s.name, e.sha)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return data, nil
}

// fetchTree lists one tree (not recursively): the fallback when GitHub
// truncated the recursive listing.
func (s *Snapshot) fetchTree(ctx context.Context, sha string) ([]treeEntry, error) {
	t, _, err := s.c.gh.Git.GetTree(ctx, s.owner, s.name, sha, false)
	if err != nil {
		return nil, wrap("get tree "+sha, err)
	}
	out := make([]treeEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		out = append(out, entryOf(e, e.GetPath()))
	}
	return out, nil
}

func entryOf(e *github.TreeEntry, name string) treeEntry {
	return treeEntry{name: name, mode: e.GetMode(), typ: e.GetType(), sha: e.GetSHA(), size: int64(e.GetSize())}
}

// snapshotStore caches what is immutable: tree listings by commit, blobs by
// id (bounded by bytes), commits by id.
type snapshotStore struct {
	mu       sync.Mutex
	indexes  map[string]*treeIndex // owner/name@commit
	indexLRU *list.List            // of keys, most recent first
	commits  map[string]*commitInfo
	blobs    map[string]*list.Element
	blobLRU  *list.List
	size     int64
	maxBytes int64
	flight   flight
}

type blobItem struct {
	key  string
	data []byte
}

const maxIndexes = 64
const maxCommits = 4096

func newSnapshotStore(maxBytes int64) *snapshotStore {
	return &snapshotStore{indexes: map[string]*treeIndex{}, indexLRU: list.New(), commits: map[string]*commitInfo{},
		blobs: map[string]*list.Element{}, blobLRU: list.New(), maxBytes: maxBytes}
}

// index returns a commit's tree listing: cached, or one recursive tree call.
func (st *snapshotStore) index(ctx context.Context, c *Client, owner, name, sha string) (*treeIndex, error) {
	key := strings.ToLower(owner+"/"+name) + "@" + sha
	st.mu.Lock()
	if ix := st.indexes[key]; ix != nil {
		st.mu.Unlock()
		return ix, nil
	}
	st.mu.Unlock()
	v, err := st.flight.do(key, func() (any, error) {
		t, _, err := c.gh.Git.GetTree(ctx, owner, name, sha, true)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list tree of %s/%s at %s", owner, name, sha), err)
		}
		ix := newTreeIndex(sha, t)
		st.mu.Lock()
		defer st.mu.Unlock()
		st.indexes[key] = ix
		st.indexLRU.PushFront(key)
		for st.indexLRU.Len() > maxIndexes {
			delete(st.indexes, st.indexLRU.Remove(st.indexLRU.Back()).(string))
		}
		return ix, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*treeIndex), nil
}

// blob returns a blob's bytes (shared: callers must not modify them).
func (st *snapshotStore) blob(ctx context.Context, c *Client, owner, name, sha string) ([]byte, error) {
	key := strings.ToLower(owner+"/"+name) + "@" + sha
	st.mu.Lock()
	if el := st.blobs[key]; el != nil {
		st.blobLRU.MoveToFront(el)
		st.mu.Unlock()
		return el.Value.(*blobItem).data, nil
	}
	st.mu.Unlock()
	v, err := st.flight.do(key, func() (any, error) {
		b, _, err := c.gh.Git.GetBlob(ctx, owner, name, sha)
		if err != nil {
			return nil, wrap("get blob "+sha, err)
		}
		data := []byte(b.GetContent())
		if b.GetEncoding() == "base64" {
			data, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(b.GetContent(), "\n", ""))
			if err != nil {
				return nil, fmt.Errorf("forge: blob %s: %w", sha, err)
			}
		}
		st.putBlob(key, data)
		return data, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (st *snapshotStore) putBlob(key string, data []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.blobs[key] != nil {
		return
	}
	st.blobs[key] = st.blobLRU.PushFront(&blobItem{key: key, data: data})
	st.size += int64(len(data))
	for st.size > st.maxBytes && st.blobLRU.Len() > 1 {
		old := st.blobLRU.Remove(st.blobLRU.Back()).(*blobItem)
		delete(st.blobs, old.key)
		st.size -= int64(len(old.data))
	}
}

// commitInfo is a commit as the Git Data API describes it.
type commitInfo struct {
	SHA       string
	Tree      string
	Parents   []string
	Author    string // name
	Committer string // name
	Message   string
	Date      time.Time
}

func (st *snapshotStore) putCommit(key string, ci *commitInfo) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.commits) >= maxCommits {
		for k := range st.commits { // drop an arbitrary one; commits are cheap to refetch
			delete(st.commits, k)
			break
		}
	}
	st.commits[key] = ci
}

func commitOf(cm *github.Commit) *commitInfo {
	ci := &commitInfo{SHA: cm.GetSHA(), Tree: cm.GetTree().GetSHA(), Message: cm.GetMessage(),
		Author: cm.GetAuthor().GetName(), Committer: cm.GetCommitter().GetName(), Date: cm.GetCommitter().GetDate().Time}
	for _, p := range cm.Parents {
		ci.Parents = append(ci.Parents, p.GetSHA())
	}
	return ci
}

// commit returns a commit (immutable, cached).
func (c *Client) commit(ctx context.Context, owner, name, sha string) (*commitInfo, error) {
	key := strings.ToLower(owner+"/"+name) + "@" + sha
	c.snaps.mu.Lock()
	ci := c.snaps.commits[key]
	c.snaps.mu.Unlock()
	if ci != nil {
		return ci, nil
	}
	cm, _, err := c.gh.Git.GetCommit(ctx, owner, name, sha)
	if err != nil {
		return nil, wrap("get commit "+sha, err)
	}
	ci = commitOf(cm)
	c.snaps.putCommit(key, ci)
	return ci, nil
}

// flight runs one fetch per key at a time; concurrent callers share it.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  any
	err  error
}

func (f *flight) do(key string, fn func() (any, error)) (any, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	if c := f.calls[key]; c != nil {
		f.mu.Unlock()
		<-c.done
		return c.val, c.err
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	c.val, c.err = fn()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.val, c.err
}

// treeEntry is one entry of a git tree.
type treeEntry struct {
	name string // base name (full path in a recursive listing before indexing)
	mode string
	typ  string // blob, tree, commit
	sha  string
	size int64
}

func (e treeEntry) info() fs.FileInfo { return entryInfo{e} }

type entryInfo struct{ e treeEntry }

func (i entryInfo) Name() string       { return path.Base(i.e.name) }
func (i entryInfo) Size() int64        { return i.e.size }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return i.e.typ == "tree" }
func (i entryInfo) Sys() any           { return nil }
func (i entryInfo) Mode() fs.FileMode {
	switch {
	case i.e.typ == "tree":
		return fs.ModeDir | 0o555
	case i.e.typ == "commit":
		return fs.ModeIrregular | 0o444
	case i.e.mode == "120000":
		return fs.ModeSymlink | 0o444
	case i.e.mode == "100755":
		return 0o555
	}
	return 0o444
}

type memFile struct {
	info fs.FileInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

type dirFile struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	pos     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.pos += n
	return rest[:n], nil
}

// sortEntries orders entries by name, as fs.ReadDir requires.
func sortEntries(es []treeEntry) {
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
}
