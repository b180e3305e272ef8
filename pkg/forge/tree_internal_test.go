package forge

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// The ids below were computed with git (git hash-object, git write-tree)
// for this tree:
//
//	a-b          100644 "x"
//	a/b/f.txt    100644 "hello\n"
//	run.sh       100755 "#!/bin/sh\n"
const (
	rootTree  = "6ebf9c419a097e31d7be391d6ceba0666bf8426a"
	treeA     = "ba7637f597c20d6e4d6fd24820d777a403582f45"
	treeAB    = "b4ed918248039b78f24383523fa4e51f80994fac"
	blobAB    = "c1b0730e0133447badcfd47fd144e254807b06e1"
	blobHello = "ce013625030ba8dba906f756967f9e9ca394464a"
	blobRun   = "1a2485251c33a70432394c93fb89330ef214bfc9"
)

// gitTrees serves the trees by id, as the non-recursive tree API would.
var gitTrees = map[string][]treeEntry{
	rootTree: {{name: "a-b", mode: "100644", typ: "blob", sha: blobAB}, {name: "a", mode: "040000", typ: "tree", sha: treeA},
		{name: "run.sh", mode: "100755", typ: "blob", sha: blobRun}},
	treeA:  {{name: "b", mode: "040000", typ: "tree", sha: treeAB}},
	treeAB: {{name: "f.txt", mode: "100644", typ: "blob", sha: blobHello}},
}

func TestGitObjectIDs(t *testing.T) {
	if got := blobHash(nil); got != "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" {
		t.Errorf("empty blob = %s", got)
	}
	if got := blobHash([]byte("hello\n")); got != blobHello {
		t.Errorf("blob = %s", got)
	}
	if got := treeHash(append([]treeEntry(nil), gitTrees[rootTree]...)); got != rootTree {
		t.Errorf("root tree = %s (\"a\" must sort after \"a-b\", as \"a/\")", got)
	}
}

// TestTruncatedListing: when GitHub truncates the recursive listing,
// directories are listed one by one on first use, and the local tree ids
// still match git's.
func TestTruncatedListing(t *testing.T) {
	ix := newTreeIndex("c0ffee", &github.Tree{SHA: github.String(rootTree), Truncated: github.Bool(true)})
	fetched := 0
	fetch := func(ctx context.Context, sha string) ([]treeEntry, error) {
		fetched++
		es, ok := gitTrees[sha]
		if !ok {
			return nil, fmt.Errorf("no tree %s", sha)
		}
		return append([]treeEntry(nil), es...), nil
	}
	ctx := context.Background()
	e, ok, err := ix.entry(ctx, fetch, "a/b/f.txt")
	if err != nil || !ok || e.sha != blobHello {
		t.Fatalf("a/b/f.txt: %+v %v %v", e, ok, err)
	}
	if _, ok, err := ix.entry(ctx, fetch, "a/b/f.txt/x"); ok || err != nil {
		t.Errorf("a path under a file exists: %v %v", ok, err)
	}
	if _, ok, err := ix.entry(ctx, fetch, "nope/x"); ok || err != nil {
		t.Errorf("a missing directory: %v %v", ok, err)
	}
	if fetched != 3 {
		t.Errorf("%d tree fetches, want 3 (root, a, a/b)", fetched)
	}
	cases := []struct {
		name    string
		changes []fileChange
		want    string
	}{
		{"no change", nil, rootTree},
		{"same content", []fileChange{{path: "a/b/f.txt", content: []byte("hello\n")}}, rootTree},
		{"delete a-b, add a/c.txt", []fileChange{{path: "a-b", delete: true}, {path: "a/c.txt", content: []byte("c\n")}},
			"5e0fa227e8d10493576e314ddabef6b347b41f38"},
		{"delete everything under a", []fileChange{{path: "a-b", delete: true}, {path: "a/b/f.txt", delete: true}},
			"4d30b2ddd4dbd82d6ad7ee4d2a4ea360f5d65b61"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ix.hashWith(ctx, fetch, tc.changes)
			if err != nil || got != tc.want {
				t.Errorf("tree = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
	if mode, _ := ix.modeOf(ctx, fetch, "run.sh"); mode != "100755" {
		t.Errorf("run.sh mode %s", mode)
	}
	if mode, _ := ix.modeOf(ctx, fetch, "new.txt"); mode != "100644" {
		t.Errorf("new file mode %s", mode)
	}
}

// TestDiffTrees: every differing file path, through nested directories, a
// file that became a directory and a mode change; equal subtrees unread.
func TestDiffTrees(t *testing.T) {
	snap := func(files map[string][2]string) *Snapshot { // path -> mode, blob id
		tr := &github.Tree{SHA: github.String("root")}
		dirs := map[string]bool{}
		for p, f := range files {
			tr.Entries = append(tr.Entries, &github.TreeEntry{Path: github.String(p), Mode: github.String(f[0]),
				Type: github.String("blob"), SHA: github.String(f[1])})
			for d := path.Dir(p); d != "."; d = path.Dir(d) {
				dirs[d] = true
			}
		}
		for d := range dirs {
			// A directory's id stands for its content: equal content, equal id.
			id := d
			for p, f := range files {
				if strings.HasPrefix(p, d+"/") {
					id += p + f[0] + f[1]
				}
			}
			tr.Entries = append(tr.Entries, &github.TreeEntry{Path: github.String(d), Mode: github.String("040000"),
				Type: github.String("tree"), SHA: github.String(id)})
		}
		return &Snapshot{ix: newTreeIndex("c", tr)}
	}
	a := snap(map[string][2]string{
		"README.md": {"100644", "r"}, "envs/dev/main.tf": {"100644", "m"}, "envs/dev/vars.tf": {"100644", "v"},
		"run.sh": {"100644", "s"}, "tools": {"100644", "t"}, "same/deep/x": {"100644", "x"},
	})
	b := snap(map[string][2]string{
		"README.md": {"100644", "r"}, "envs/dev/main.tf": {"100644", "M"}, "envs/prod/main.tf": {"100644", "p"},
		"run.sh": {"100755", "s"}, "tools/lint.sh": {"100644", "l"}, "same/deep/x": {"100644", "x"},
		".github/workflows/x.yml": {"100644", "w"},
	})
	got, err := diffTrees(context.Background(), a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".github/workflows/x.yml", "envs/dev/main.tf", "envs/dev/vars.tf", "envs/prod/main.tf", "run.sh", "tools", "tools/lint.sh"}
	if !slices.Equal(got, want) {
		t.Errorf("diff = %v\nwant %v", got, want)
	}
	if again, _ := diffTrees(context.Background(), b, b); len(again) != 0 {
		t.Errorf("a tree differs from itself: %v", again)
	}
}
