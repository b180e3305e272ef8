package forge_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
)

// TestCommitChangeSetShapes commits additions in new nested directories, a
// modification of an executable, a deletion that empties a directory and a
// non-UTF-8 file. The tree must be exactly the expected one, modes kept,
// and committing the same change set again must be recognised without a
// write (forge's local tree id equals GitHub's).
func TestCommitChangeSetShapes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	write := func(p, content string, mode os.FileMode) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/run.sh", "#!/bin/sh\necho 1\n", 0o755)
	write("docs/a.md", "a\n", 0o644)
	write("docs/old/only.md", "gone soon\n", 0o644)
	write("z.txt", "z\n", 0o644)
	base, err := e.fake.AddRepoFromDir("acme/tools", dir)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.fake.Install(e.creds.ID, "acme", "tools")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.app.Installation(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	binary := []byte{0xff, 0xfe, 0x00, 0x01}
	cs := forge.ChangeSet{Branch: "shapes", Base: base, Message: "shapes", Changes: []gitops.Change{
		{Path: "bin/run.sh", Old: []byte("x"), New: []byte("#!/bin/sh\necho 2\n")},
		{Path: "docs/old/only.md", Old: []byte("gone soon\n")},
		{Path: "new/deep/dir/file.yaml", New: []byte("k: v\n")},
		{Path: "docs-b.txt", New: []byte("sorts between docs and docs/\n")},
		{Path: "blob.bin", New: binary},
	}}
	head, made, err := c.CommitChangeSet(ctx, "acme/tools", cs)
	if err != nil || !made {
		t.Fatal(made, err)
	}
	files := must[[]string](t)(e.fake.Files("acme/tools", "shapes"))
	want := []string{"bin/run.sh", "blob.bin", "docs-b.txt", "docs/a.md", "new/deep/dir/file.yaml", "z.txt"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %v, want %v", files, want)
	}
	if got := must[[]byte](t)(e.fake.File("acme/tools", "shapes", "blob.bin")); !slices.Equal(got, binary) {
		t.Errorf("binary file = %x", got)
	}
	snap := must[*forge.Snapshot](t)(c.SnapshotAt(ctx, "acme/tools", head))
	info := must[os.FileInfo](t)(snap.Stat("bin/run.sh"))
	if info.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/run.sh lost its executable mode: %v", info.Mode())
	}

	// The same change set on the same base, against the new head: no write.
	e.resetCalls()
	cs.Head = head
	again, made, err := c.CommitChangeSet(ctx, "acme/tools", cs)
	if err != nil || made || again != head {
		t.Fatalf("again: %s %v %v", again, made, err)
	}
	if s := e.app.Metrics().Snapshot(); s.Writes != 0 {
		t.Errorf("unchanged change set made %d writes", s.Writes)
	}
	// A change set onto the branch itself (Base = Head): one parent.
	next, made, err := c.CommitChangeSet(ctx, "acme/tools", forge.ChangeSet{Branch: "shapes", Base: head, Head: head, Message: "more",
		Changes: []gitops.Change{{Path: "z.txt", Old: []byte("z\n"), New: []byte("zz\n")}}})
	if err != nil || !made {
		t.Fatal(made, err)
	}
	commits := must[[]gitopsCommit](t)(commitsOf(e, "acme/tools", "shapes"))
	if commits[0].sha != next || !slices.Equal(commits[0].parents, []string{head}) {
		t.Errorf("head commit = %+v", commits[0])
	}
}

type gitopsCommit struct {
	sha     string
	parents []string
}

func commitsOf(e *env, repoName, ref string) ([]gitopsCommit, error) {
	list, err := e.fake.Commits(repoName, ref)
	var out []gitopsCommit
	for _, c := range list {
		out = append(out, gitopsCommit{c.SHA, c.Parents})
	}
	return out, err
}
