package digest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"path"
	"sort"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
)

// File is one file the pull request changes. Old is nil when the file does
// not exist at the merge base, New is nil when the head deletes it; an
// empty file that exists is a non-nil empty slice.
type File struct {
	Path string
	Old  []byte
	New  []byte
}

// Op says what a change does to a key.
type Op string

// Change operations.
const (
	Added   Op = "add"
	Changed Op = "change"
	Removed Op = "remove"
)

// Change is one key path whose value differs between the merge base and
// the head. Key "" is the file itself: its presence, or its content hash
// when it is digested by its bytes. Old is "" for Added, New for Removed.
type Change struct {
	File string
	Key  string
	Op   Op
	Old  string
	New  string
}

// String reads like `rds-catalog/dev.yaml: databases.orders.configuration.size_tier: "small" → "large"`.
func (c Change) String() string {
	where := c.File
	if c.Key != "" {
		where += ": " + c.Key
	}
	switch c.Op {
	case Added:
		if c.Key == "" {
			return where + ": file added"
		}
		return where + ": added " + c.New
	case Removed:
		if c.Key == "" {
			return where + ": file removed"
		}
		return where + ": removed (was " + c.Old + ")"
	}
	return where + ": " + c.Old + " → " + c.New
}

// Result is a pull request's digest and the changes it is computed from,
// sorted by file and key.
type Result struct {
	Digest  string
	Changes []Change
}

// Volatile names values a bot re-plan changes without changing what the
// request does: Key (a key path pattern, `*` for any one name and `[*]` for
// any one index) in files matching Files (a path.Match glob).
type Volatile struct {
	Files string
	Key   string
}

// CatalogVolatileKeys are the catalog values that follow the day of a plan
// rather than the request: the header's last_updated, and a new entry's
// created_date and status_history times.
var CatalogVolatileKeys = []string{
	"last_updated",
	"databases.*.metadata.created_date",
	"databases.*.metadata.status_history[*].at",
}

// VolatileFor is the volatile list for a configuration: CatalogVolatileKeys
// in the catalog file(s) it names.
func VolatileFor(cfg *config.Config) []Volatile {
	glob := globEscape(cfg.Catalog.Path)
	glob = strings.ReplaceAll(glob, "{env}", "*")
	out := make([]Volatile, 0, len(CatalogVolatileKeys))
	for _, k := range CatalogVolatileKeys {
		out = append(out, Volatile{Files: glob, Key: k})
	}
	return out
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// Options of Compute.
type Options struct {
	// Base is the base branch the pull request targets: the same changes
	// proposed to another branch are other content.
	Base string
	// Volatile values are left out of the digest (see VolatileFor).
	Volatile []Volatile
}

type volatileRule struct {
	files string
	key   pattern
}

// Compute returns the digest of a pull request's changed files. Files whose
// bytes are equal on both sides contribute nothing. It fails only on bad
// input: an empty or repeated path, a file absent on both sides, or an
// invalid volatile rule.
func Compute(files []File, opts Options) (*Result, error) {
	var errs []error
	rules := make([]volatileRule, 0, len(opts.Volatile))
	for i, v := range opts.Volatile {
		if _, err := path.Match(v.Files, ""); err != nil {
			errs = append(errs, fmt.Errorf("volatile[%d].files %q: %w", i, v.Files, err))
		}
		p, err := parsePattern(v.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("volatile[%d].key: %w", i, err))
		}
		rules = append(rules, volatileRule{files: v.Files, key: p})
	}
	seen := map[string]bool{}
	for _, f := range files {
		switch {
		case f.Path == "":
			errs = append(errs, errors.New("a changed file has no path"))
		case seen[f.Path]:
			errs = append(errs, fmt.Errorf("%s: listed twice", f.Path))
		case f.Old == nil && f.New == nil:
			errs = append(errs, fmt.Errorf("%s: absent at both the merge base and the head", f.Path))
		}
		seen[f.Path] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	var changes []Change
	for _, f := range files {
		changes = append(changes, fileChanges(f, rules)...)
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].File != changes[j].File {
			return changes[i].File < changes[j].File
		}
		return changes[i].Key < changes[j].Key
	})

	h := sha256.New()
	writeField(h, "rdsbot content digest v1")
	writeField(h, opts.Base)
	for _, c := range changes {
		for _, s := range []string{c.File, c.Key, string(c.Op), c.Old, c.New} {
			writeField(h, s)
		}
	}
	return &Result{Digest: "v1:" + hex.EncodeToString(h.Sum(nil)), Changes: changes}, nil
}

// writeField writes a length-prefixed string, so no two change lists encode
// alike.
func writeField(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}

// fileChanges diffs the leaves of one file.
func fileChanges(f File, rules []volatileRule) []Change {
	var applicable []pattern
	for _, r := range rules {
		if ok, _ := path.Match(r.files, f.Path); ok {
			applicable = append(applicable, r.key)
		}
	}
	oldL, errOld := side(f.Path, f.Old, applicable)
	newL, errNew := side(f.Path, f.New, applicable)
	if errOld != nil || errNew != nil {
		oldL, newL = byBytes(f.Old), byBytes(f.New)
	}
	var out []Change
	add := func(k string, op Op, o, n string) {
		if o == "volatile" || n == "volatile" {
			return
		}
		out = append(out, Change{File: f.Path, Key: k, Op: op, Old: o, New: n})
	}
	for k, o := range oldL {
		n, ok := newL[k]
		switch {
		case !ok:
			add(k, Removed, o, "")
		case n != o:
			add(k, Changed, o, n)
		}
	}
	for k, n := range newL {
		if _, ok := oldL[k]; !ok {
			add(k, Added, "", n)
		}
	}
	return out
}

// side flattens one side; an absent file has no leaves.
func side(p string, b []byte, volatile []pattern) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	return flatten(p, b, volatile)
}

// byBytes is a file digested by its content hash.
func byBytes(b []byte) map[string]string {
	if b == nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return map[string]string{"": "sha256:" + hex.EncodeToString(sum[:])}
}
