package githubfake

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Git object types and the tree entry modes GitHub accepts.
const (
	objBlob   = "blob"
	objTree   = "tree"
	objCommit = "commit"

	modeFile    = "100644"
	modeExec    = "100755"
	modeSymlink = "120000"
	modeTree    = "040000"
	modeCommit  = "160000"

	// emptyTreeSHA is git's id of the empty tree.
	emptyTreeSHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
	zeroSHA      = "0000000000000000000000000000000000000000"
)

// object is a stored git object: its type and its raw content (without the
// "<type> <len>\x00" header).
type object struct {
	typ  string
	data []byte
}

// objectID computes git's id of an object: SHA-1 of "<type> <len>\x00<data>".
func objectID(typ string, data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", typ, len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// treeEntry is one line of a git tree.
type treeEntry struct {
	Mode string // as GitHub reports it: 100644, 100755, 040000, 120000, 160000
	Name string
	SHA  string
}

func (e treeEntry) isTree() bool { return e.Mode == modeTree }

// entryType names the object an entry points at, as GitHub's tree API does.
func (e treeEntry) entryType() string {
	switch e.Mode {
	case modeTree:
		return objTree
	case modeCommit:
		return objCommit
	}
	return objBlob
}

// encodeTree serialises entries in git's canonical order and format
// ("<mode> <name>\x00<20-byte id>", trees with mode 40000).
func encodeTree(entries []treeEntry) ([]byte, error) {
	sorted := append([]treeEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return treeSortKey(sorted[i]) < treeSortKey(sorted[j]) })
	var buf bytes.Buffer
	for i, e := range sorted {
		if i > 0 && sorted[i-1].Name == e.Name {
			return nil, fmt.Errorf("duplicate tree entry %q", e.Name)
		}
		raw, err := hex.DecodeString(e.SHA)
		if err != nil || len(raw) != 20 {
			return nil, fmt.Errorf("tree entry %q: invalid sha %q", e.Name, e.SHA)
		}
		mode := e.Mode
		if mode == modeTree {
			mode = "40000"
		}
		buf.WriteString(mode)
		buf.WriteByte(' ')
		buf.WriteString(e.Name)
		buf.WriteByte(0)
		buf.Write(raw)
	}
	return buf.Bytes(), nil
}

// treeSortKey orders entries like git: directories compare as if their name
// ended in "/".
func treeSortKey(e treeEntry) string {
	if e.isTree() {
		return e.Name + "/"
	}
	return e.Name
}

// decodeTree parses a raw git tree.
func decodeTree(data []byte) ([]treeEntry, error) {
	var out []treeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		nul := bytes.IndexByte(data, 0)
		if sp < 0 || nul < sp || len(data) < nul+21 {
			return nil, errors.New("corrupt tree object")
		}
		mode := string(data[:sp])
		if mode == "40000" {
			mode = modeTree
		}
		out = append(out, treeEntry{Mode: mode, Name: string(data[sp+1 : nul]), SHA: hex.EncodeToString(data[nul+1 : nul+21])})
		data = data[nul+21:]
	}
	return out, nil
}

// Signature is a commit author or committer.
type Signature struct {
	Name  string
	Email string
	Date  time.Time
}

func (s Signature) gitLine() string {
	_, off := s.Date.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s <%s> %d %s%02d%02d", s.Name, s.Email, s.Date.Unix(), sign, off/3600, (off%3600)/60)
}

// commitData is a parsed git commit.
type commitData struct {
	Tree      string
	Parents   []string
	Author    Signature
	Committer Signature
	Message   string
}

// encodeCommit serialises a commit exactly as `git commit-tree` does.
func encodeCommit(c commitData) []byte {
	var b strings.Builder
	b.WriteString("tree " + c.Tree + "\n")
	for _, p := range c.Parents {
		b.WriteString("parent " + p + "\n")
	}
	b.WriteString("author " + c.Author.gitLine() + "\n")
	b.WriteString("committer " + c.Committer.gitLine() + "\n")
	b.WriteString("\n")
	b.WriteString(c.Message)
	return []byte(b.String())
}

// decodeCommit parses a raw git commit written by encodeCommit.
func decodeCommit(data []byte) (commitData, error) {
	var c commitData
	head, msg, ok := strings.Cut(string(data), "\n\n")
	if !ok {
		return c, errors.New("corrupt commit object")
	}
	c.Message = msg
	for _, line := range strings.Split(head, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			c.Tree = val
		case "parent":
			c.Parents = append(c.Parents, val)
		case "author", "committer":
			sig, err := parseSignature(val)
			if err != nil {
				return c, err
			}
			if key == "author" {
				c.Author = sig
			} else {
				c.Committer = sig
			}
		}
	}
	return c, nil
}

func parseSignature(s string) (Signature, error) {
	lt, gt := strings.Index(s, "<"), strings.LastIndex(s, ">")
	if lt < 0 || gt < lt {
		return Signature{}, fmt.Errorf("corrupt signature %q", s)
	}
	fields := strings.Fields(s[gt+1:])
	if len(fields) != 2 {
		return Signature{}, fmt.Errorf("corrupt signature %q", s)
	}
	secs, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return Signature{}, fmt.Errorf("corrupt signature time %q", s)
	}
	tz := fields[1]
	hh, _ := strconv.Atoi(tz[1:3])
	mm, _ := strconv.Atoi(tz[3:5])
	off := hh*3600 + mm*60
	if tz[0] == '-' {
		off = -off
	}
	loc := time.FixedZone("", off)
	if off == 0 {
		loc = time.UTC
	}
	return Signature{Name: strings.TrimSpace(s[:lt]), Email: s[lt+1 : gt], Date: time.Unix(secs, 0).In(loc)}, nil
}

// objectStore is a repository's object database. Not safe for concurrent use;
// the Fake's mutex guards it.
type objectStore struct {
	objects map[string]object
}

func newObjectStore() *objectStore {
	s := &objectStore{objects: map[string]object{}}
	s.put(objTree, nil) // the empty tree always exists
	return s
}

func (s *objectStore) put(typ string, data []byte) string {
	id := objectID(typ, data)
	if _, ok := s.objects[id]; !ok {
		s.objects[id] = object{typ: typ, data: append([]byte(nil), data...)}
	}
	return id
}

func (s *objectStore) get(id string) (object, bool) {
	o, ok := s.objects[strings.ToLower(id)]
	return o, ok
}

func (s *objectStore) putBlob(content []byte) string { return s.put(objBlob, content) }

func (s *objectStore) putTree(entries []treeEntry) (string, error) {
	data, err := encodeTree(entries)
	if err != nil {
		return "", err
	}
	return s.put(objTree, data), nil
}

func (s *objectStore) putCommit(c commitData) string { return s.put(objCommit, encodeCommit(c)) }

func (s *objectStore) tree(id string) ([]treeEntry, error) {
	o, ok := s.get(id)
	if !ok || o.typ != objTree {
		return nil, fmt.Errorf("tree %s not found", id)
	}
	return decodeTree(o.data)
}

func (s *objectStore) commit(id string) (commitData, error) {
	o, ok := s.get(id)
	if !ok || o.typ != objCommit {
		return commitData{}, fmt.Errorf("commit %s not found", id)
	}
	return decodeCommit(o.data)
}

// fileEntry is a non-tree entry in a flattened tree, keyed by its full path.
type fileEntry struct {
	Mode string
	SHA  string
}

// flatten lists every non-tree entry under tree id by full path.
func (s *objectStore) flatten(id string) (map[string]fileEntry, error) {
	out := map[string]fileEntry{}
	return out, s.flattenInto(id, "", out)
}

func (s *objectStore) flattenInto(id, prefix string, out map[string]fileEntry) error {
	entries, err := s.tree(id)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(prefix, e.Name)
		if e.isTree() {
			if err := s.flattenInto(e.SHA, p, out); err != nil {
				return err
			}
			continue
		}
		out[p] = fileEntry{Mode: e.Mode, SHA: e.SHA}
	}
	return nil
}

// buildTree writes the nested trees for a flat path map and returns the root id.
func (s *objectStore) buildTree(files map[string]fileEntry) (string, error) {
	type dir struct {
		files map[string]fileEntry
		dirs  map[string]*dir
	}
	newDir := func() *dir { return &dir{files: map[string]fileEntry{}, dirs: map[string]*dir{}} }
	root := newDir()
	for p, fe := range files {
		parts := strings.Split(p, "/")
		d := root
		for _, part := range parts[:len(parts)-1] {
			if d.dirs[part] == nil {
				d.dirs[part] = newDir()
			}
			d = d.dirs[part]
		}
		d.files[parts[len(parts)-1]] = fe
	}
	var write func(d *dir) (string, error)
	write = func(d *dir) (string, error) {
		var entries []treeEntry
		for name, fe := range d.files {
			if _, clash := d.dirs[name]; clash {
				return "", fmt.Errorf("path %q is both a file and a directory", name)
			}
			entries = append(entries, treeEntry{Mode: fe.Mode, Name: name, SHA: fe.SHA})
		}
		for name, sub := range d.dirs {
			id, err := write(sub)
			if err != nil {
				return "", err
			}
			entries = append(entries, treeEntry{Mode: modeTree, Name: name, SHA: id})
		}
		return s.putTree(entries)
	}
	return write(root)
}

// lookupPath resolves a slash-separated path inside a tree.
func (s *objectStore) lookupPath(treeID, p string) (treeEntry, bool) {
	p = strings.Trim(p, "/")
	cur := treeEntry{Mode: modeTree, SHA: treeID}
	if p == "" {
		return cur, true
	}
	for _, part := range strings.Split(p, "/") {
		if !cur.isTree() {
			return treeEntry{}, false
		}
		entries, err := s.tree(cur.SHA)
		if err != nil {
			return treeEntry{}, false
		}
		found := false
		for _, e := range entries {
			if e.Name == part {
				cur, found = e, true
				break
			}
		}
		if !found {
			return treeEntry{}, false
		}
	}
	return cur, true
}

// isAncestor reports whether anc is reachable from desc (or equal to it).
func (s *objectStore) isAncestor(anc, desc string) bool {
	seen := map[string]bool{}
	stack := []string{desc}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == anc {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := s.commit(id)
		if err != nil {
			continue
		}
		stack = append(stack, c.Parents...)
	}
	return false
}

// history lists commits reachable from tip, newest first (breadth first by
// parent order, each once).
func (s *objectStore) history(tip string, limit int) []string {
	var out []string
	seen := map[string]bool{}
	queue := []string{tip}
	for len(queue) > 0 && (limit <= 0 || len(out) < limit) {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := s.commit(id)
		if err != nil {
			continue
		}
		out = append(out, id)
		queue = append(queue, c.Parents...)
	}
	return out
}

// mergeBase finds the nearest common ancestor of a and b, or "" when none.
func (s *objectStore) mergeBase(a, b string) string {
	ancestorsOfA := map[string]bool{}
	for _, id := range s.history(a, 0) {
		ancestorsOfA[id] = true
	}
	for _, id := range s.history(b, 0) {
		if ancestorsOfA[id] {
			return id
		}
	}
	return ""
}
