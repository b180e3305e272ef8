package forge

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
)

// treeIndex is a commit's tree, directory by directory. A complete
// recursive listing fills every directory at once; when GitHub truncated
// it, directories are listed one at a time on first use.
type treeIndex struct {
	commit, root string
	bytes        int64 // estimated size of the listing it was made with
	mu           sync.Mutex
	dirs         map[string]*dirListing // "" is the root
}

type dirListing struct {
	entries []treeEntry // sorted by name; name is the base name
}

func (l *dirListing) find(name string) (treeEntry, bool) {
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].name >= name })
	if i < len(l.entries) && l.entries[i].name == name {
		return l.entries[i], true
	}
	return treeEntry{}, false
}

func newTreeIndex(commit string, t *github.Tree) *treeIndex {
	ix := &treeIndex{commit: commit, root: t.GetSHA(), dirs: map[string]*dirListing{}}
	if t.GetTruncated() {
		// Listed lazily, directory by directory, as the bot reads them: only
		// those count then (the cache weighs the index when it is added).
		return ix
	}
	ix.dirs[""] = &dirListing{}
	for _, e := range t.Entries {
		p := e.GetPath()
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		l := ix.dirs[dir]
		if l == nil {
			l = &dirListing{}
			ix.dirs[dir] = l
		}
		l.entries = append(l.entries, entryOf(e, base))
		ix.bytes += int64(len(p)+len(e.GetSHA())+len(e.GetMode())+len(e.GetType())) + 48
		if e.GetType() == "tree" && ix.dirs[p] == nil {
			ix.dirs[p] = &dirListing{}
		}
	}
	for _, l := range ix.dirs {
		sortEntries(l.entries)
	}
	return ix
}

type treeFetcher func(ctx context.Context, sha string) ([]treeEntry, error)

// dir returns a directory's listing; ErrNotExist-like errors when it is
// not a directory of this commit.
func (ix *treeIndex) dir(ctx context.Context, fetch treeFetcher, dir string) (*dirListing, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.dirLocked(ctx, fetch, dir)
}

func (ix *treeIndex) dirLocked(ctx context.Context, fetch treeFetcher, dir string) (*dirListing, error) {
	if l := ix.dirs[dir]; l != nil {
		return l, nil
	}
	sha := ix.root
	if dir != "" {
		parentDir, base := path.Split(dir)
		parent, err := ix.dirLocked(ctx, fetch, strings.TrimSuffix(parentDir, "/"))
		if err != nil {
			return nil, err
		}
		e, ok := parent.find(base)
		if !ok || e.typ != "tree" {
			return nil, errNotDir
		}
		sha = e.sha
	}
	if fetch == nil {
		return nil, errNotDir
	}
	entries, err := fetch(ctx, sha)
	if err != nil {
		return nil, err
	}
	sortEntries(entries)
	l := &dirListing{entries: entries}
	ix.dirs[dir] = l
	return l, nil
}

var errNotDir = fmt.Errorf("not a directory: %w", errNotExist)

// entry looks a path up; ok is false when it does not exist.
func (ix *treeIndex) entry(ctx context.Context, fetch treeFetcher, p string) (treeEntry, bool, error) {
	dir, base := path.Split(p)
	l, err := ix.dir(ctx, fetch, strings.TrimSuffix(dir, "/"))
	if err != nil {
		if isNotExist(err) {
			return treeEntry{}, false, nil
		}
		return treeEntry{}, false, err
	}
	e, ok := l.find(base)
	return e, ok, nil
}

// fileChange is one path of a change set: new content, or a deletion.
type fileChange struct {
	path    string
	content []byte
	delete  bool
}

// treeNode groups changes by directory.
type treeNode struct {
	files map[string]*fileChange
	dirs  map[string]*treeNode
}

func newTreeNode() *treeNode {
	return &treeNode{files: map[string]*fileChange{}, dirs: map[string]*treeNode{}}
}

// hashWith computes, without a call, the id of the root tree that applying
// changes to this commit's tree gives: the same id GitHub's create-tree
// answers, so an unchanged branch is recognised before anything is written.
func (ix *treeIndex) hashWith(ctx context.Context, fetch treeFetcher, changes []fileChange) (string, error) {
	root := newTreeNode()
	for i := range changes {
		ch := &changes[i]
		parts := strings.Split(ch.path, "/")
		n := root
		for _, d := range parts[:len(parts)-1] {
			if n.dirs[d] == nil {
				n.dirs[d] = newTreeNode()
			}
			n = n.dirs[d]
		}
		n.files[parts[len(parts)-1]] = ch
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	sha, _, err := ix.hashDir(ctx, fetch, "", root)
	return sha, err
}

func (ix *treeIndex) hashDir(ctx context.Context, fetch treeFetcher, dir string, n *treeNode) (string, bool, error) {
	entries := map[string]treeEntry{}
	l, err := ix.dirLocked(ctx, fetch, dir)
	switch {
	case err == nil:
		for _, e := range l.entries {
			entries[e.name] = e
		}
	case !isNotExist(err):
		return "", false, err
	}
	for name, ch := range n.files {
		if ch.delete {
			delete(entries, name)
			continue
		}
		mode := "100644"
		if old, ok := entries[name]; ok && old.typ == "blob" {
			mode = old.mode
		}
		entries[name] = treeEntry{name: name, mode: mode, typ: "blob", sha: blobHash(ch.content)}
	}
	for name, child := range n.dirs {
		sub, empty, err := ix.hashDir(ctx, fetch, path.Join(dir, name), child)
		if err != nil {
			return "", false, err
		}
		if empty {
			delete(entries, name)
			continue
		}
		entries[name] = treeEntry{name: name, mode: "40000", typ: "tree", sha: sub}
	}
	if len(entries) == 0 {
		return "", true, nil
	}
	list := make([]treeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	return treeHash(list), false, nil
}

// modeOf is the mode a changed file is written with: its current one when
// it exists as a file, otherwise a regular file.
func (ix *treeIndex) modeOf(ctx context.Context, fetch treeFetcher, p string) (string, error) {
	e, ok, err := ix.entry(ctx, fetch, p)
	if err != nil {
		return "", err
	}
	if ok && e.typ == "blob" {
		return e.mode, nil
	}
	return "100644", nil
}

// blobHash is git's object id of a blob.
func blobHash(content []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(content)) + "\x00"))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// treeHash is git's object id of a tree: entries in git's order (a
// directory sorts as if its name ended in "/"), each "<mode> <name>\0<id>".
func treeHash(entries []treeEntry) string {
	key := func(e treeEntry) string {
		if e.typ == "tree" {
			return e.name + "/"
		}
		return e.name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	var body []byte
	for _, e := range entries {
		mode := strings.TrimLeft(e.mode, "0")
		if e.typ == "tree" {
			mode = "40000"
		}
		raw, _ := hex.DecodeString(e.sha)
		body = append(body, mode+" "+e.name+"\x00"...)
		body = append(body, raw...)
	}
	h := sha1.New()
	h.Write([]byte("tree " + strconv.Itoa(len(body)) + "\x00"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// diffTrees lists, sorted, the paths of the files (blobs, links,
// submodules) that differ between the trees of two commits: added, removed,
// changed or with another mode. Subtrees with the same id are skipped
// unread, so the cost follows the difference, not the repository.
func diffTrees(ctx context.Context, a, b *Snapshot) ([]string, error) {
	var out []string
	if err := diffDir(ctx, a, b, "", &out); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func diffDir(ctx context.Context, a, b *Snapshot, dir string, out *[]string) error {
	list := func(s *Snapshot) (map[string]treeEntry, error) {
		l, err := s.ix.dir(ctx, s.fetchTree, dir)
		if isNotExist(err) {
			return nil, nil // not a directory on this side
		}
		if err != nil {
			return nil, err
		}
		m := make(map[string]treeEntry, len(l.entries))
		for _, e := range l.entries {
			m[e.name] = e
		}
		return m, nil
	}
	la, err := list(a)
	if err != nil {
		return err
	}
	lb, err := list(b)
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for n := range la {
		names[n] = true
	}
	for n := range lb {
		names[n] = true
	}
	for n := range names {
		ea, okA := la[n]
		eb, okB := lb[n]
		if okA && okB && ea.sha == eb.sha && ea.mode == eb.mode && ea.typ == eb.typ {
			continue
		}
		p := path.Join(dir, n)
		if (okA && ea.typ == "tree") || (okB && eb.typ == "tree") {
			if err := diffDir(ctx, a, b, p, out); err != nil {
				return err
			}
		}
		if (okA && ea.typ != "tree") || (okB && eb.typ != "tree") {
			*out = append(*out, p)
		}
	}
	return nil
}
