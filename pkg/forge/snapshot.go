package forge

import (
	"bytes"
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
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/singleflight"
)

// Snapshot is a read-only view of a repository at one commit, as an fs.FS
// (also ReadFileFS, ReadDirFS and StatFS). The tree is listed once per
// commit (one recursive tree call); file contents are fetched lazily, by
// blob id, on first read. Both are immutable, so they are cached (in the
// App's bounded, least-recently-used snapshot store): planning again on the
// same commit costs no calls, and after the base moves only the files that
// changed are fetched again.
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

// snapshotStore caches what is immutable, for all the clients of an App
// under one bound: tree listings by commit and blobs by id (both weighed in
// bytes, together at most Config.SnapshotBytes), and commits by id
// (counted). Keys start with the client's label, so a client only ever
// reads what GitHub showed to itself. Concurrent fetches of one key share
// one request (singleflight), detached from the first caller's context.
type snapshotStore struct {
	indexes *sizedLRU[*treeIndex]
	blobs   *sizedLRU[[]byte]
	commits *sizedLRU[*commitInfo]
	flight  singleflight.Group
	timeout time.Duration // of a shared fetch
}

// maxCommits and maxCommitBytes bound the commits kept; maxCachedIndexes
// and maxCachedBlobs bound the entries whatever their size.
const (
	maxCommits       = 4096
	maxCommitBytes   = 4 << 20
	maxCachedIndexes = 256
	maxCachedBlobs   = 1 << 16
)

func newSnapshotStore(maxBytes int64, fetchTimeout time.Duration) *snapshotStore {
	// Listings get a quarter of the bytes, blobs the rest.
	return &snapshotStore{
		indexes: newSizedLRU(maxCachedIndexes, max(maxBytes/4, 1), func(k string, ix *treeIndex) int64 {
			return int64(len(k)) + entryOverhead + ix.bytes
		}),
		blobs: newSizedLRU(maxCachedBlobs, max(maxBytes-maxBytes/4, 1), func(k string, b []byte) int64 {
			return int64(len(k)+len(b)) + entryOverhead
		}),
		commits: newSizedLRU(maxCommits, maxCommitBytes, func(k string, ci *commitInfo) int64 {
			return int64(len(k)+len(ci.SHA)+len(ci.Tree)+len(ci.Author)+48*len(ci.Parents)) + entryOverhead
		}),
		timeout: fetchTimeout,
	}
}

// shared runs fetch once for every concurrent caller of key. The fetch runs
// on a context detached from the caller's cancellation, bounded by the
// store's timeout, so a caller that gives up (its job timed out, its
// webhook was answered) does not fail the others; each caller stops waiting
// when its own context ends.
func (st *snapshotStore) shared(ctx context.Context, key string, fetch func(context.Context) (any, error)) (any, error) {
	ch := st.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.timeout)
		defer cancel()
		return fetch(fctx)
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// repoKey names a repository in the App's caches: the client's label first.
func (c *Client) repoKey(owner, name string) string {
	return c.label + "\x00" + strings.ToLower(owner+"/"+name)
}

// index returns a commit's tree listing: cached, or one recursive tree call.
func (st *snapshotStore) index(ctx context.Context, c *Client, owner, name, sha string) (*treeIndex, error) {
	key := c.repoKey(owner, name) + "@" + sha
	if ix, ok := st.indexes.get(key); ok {
		return ix, nil
	}
	v, err := st.shared(ctx, "tree:"+key, func(ctx context.Context) (any, error) {
		if ix, ok := st.indexes.get(key); ok { // filled while this caller looked
			return ix, nil
		}
		t, _, err := c.gh.Git.GetTree(ctx, owner, name, sha, true)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list tree of %s/%s at %s", owner, name, sha), err)
		}
		ix := newTreeIndex(sha, t)
		st.indexes.add(key, ix)
		return ix, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*treeIndex), nil
}

// blob returns a blob's bytes (shared: callers must not modify them).
func (st *snapshotStore) blob(ctx context.Context, c *Client, owner, name, sha string) ([]byte, error) {
	key := c.repoKey(owner, name) + "@" + sha
	if data, ok := st.blobs.get(key); ok {
		return data, nil
	}
	v, err := st.shared(ctx, "blob:"+key, func(ctx context.Context) (any, error) {
		if data, ok := st.blobs.get(key); ok {
			return data, nil
		}
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
		st.blobs.add(key, data)
		return data, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// commitInfo is a commit as the Git Data API describes it (the message is
// not kept: nothing needs it, and it is the one unbounded field).
type commitInfo struct {
	SHA     string
	Tree    string
	Parents []string
	Author  string // name, as the commit claims it: for messages, never for trust
}

// maxAuthorName bounds the author name kept: it is whatever the pusher wrote.
const maxAuthorName = 256

// clipName shortens a name a commit claims to maxAuthorName bytes.
func clipName(s string) string {
	if len(s) <= maxAuthorName {
		return s
	}
	return strings.ToValidUTF8(s[:maxAuthorName], "") + "…"
}

func commitOf(cm *github.Commit) *commitInfo {
	ci := &commitInfo{SHA: cm.GetSHA(), Tree: cm.GetTree().GetSHA(), Author: clipName(cm.GetAuthor().GetName())}
	for _, p := range cm.Parents {
		ci.Parents = append(ci.Parents, p.GetSHA())
	}
	return ci
}

// commit returns a commit (immutable, cached).
func (c *Client) commit(ctx context.Context, owner, name, sha string) (*commitInfo, error) {
	key := c.repoKey(owner, name) + "@" + sha
	if ci, ok := c.snaps.commits.get(key); ok {
		return ci, nil
	}
	v, err := c.snaps.shared(ctx, "commit:"+key, func(ctx context.Context) (any, error) {
		if ci, ok := c.snaps.commits.get(key); ok {
			return ci, nil
		}
		cm, _, err := c.gh.Git.GetCommit(ctx, owner, name, sha)
		if err != nil {
			return nil, wrap("get commit "+sha, err)
		}
		ci := commitOf(cm)
		c.snaps.commits.add(key, ci)
		return ci, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*commitInfo), nil
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
