package githubfake

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// gitCmd runs the real git binary in dir with stdin and returns trimmed stdout.
func gitCmd(t *testing.T, dir, stdin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func requireGit(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not installed")
	}
	dir := t.TempDir()
	gitCmd(t, dir, "", nil, "init", "-q", ".")
	return dir
}

func TestBlobIDsMatchGitHashObject(t *testing.T) {
	dir := requireGit(t)
	for _, content := range []string{"", "hello\n", "no newline", "bin\x00ary\xff\xfe", strings.Repeat("line\n", 1000)} {
		want := gitCmd(t, dir, content, nil, "hash-object", "--stdin")
		if got := objectID(objBlob, []byte(content)); got != want {
			t.Errorf("blob %q: got %s, git says %s", content[:min(len(content), 10)], got, want)
		}
	}
}

func TestTreesMatchGitMktree(t *testing.T) {
	dir := requireGit(t)
	store := newObjectStore()
	// Names chosen to exercise git's ordering: "a" as a directory sorts as
	// "a/", after "a-b" and "a.b" but before "a0".
	files := map[string]fileEntry{}
	for _, p := range []string{"a/x.txt", "a-b", "a.b", "a0", "envs/dev-rds/terraform.tfvars", "README.md"} {
		content := "content of " + p + "\n"
		id := gitCmd(t, dir, content, nil, "hash-object", "-w", "--stdin")
		if got := store.putBlob([]byte(content)); got != id {
			t.Fatalf("blob %s: %s vs git %s", p, got, id)
		}
		files[p] = fileEntry{Mode: modeFile, SHA: id}
	}
	exec := files["a0"]
	exec.Mode = modeExec
	files["a0"] = exec
	root, err := store.buildTree(files)
	if err != nil {
		t.Fatal(err)
	}
	// Build the same tree bottom-up with git mktree.
	var mktree func(treeID string) string
	mktree = func(treeID string) string {
		entries, err := store.tree(treeID)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range entries {
			sha := e.SHA
			if e.isTree() {
				sha = mktree(e.SHA)
			}
			lines = append(lines, fmt.Sprintf("%s %s %s\t%s", e.Mode, e.entryType(), sha, e.Name))
		}
		return gitCmd(t, dir, strings.Join(lines, "\n")+"\n", nil, "mktree")
	}
	if want := mktree(root); root != want {
		t.Fatalf("root tree: got %s, git mktree says %s", root, want)
	}
	if empty, _ := store.putTree(nil); empty != emptyTreeSHA {
		t.Fatalf("empty tree: got %s, want %s", empty, emptyTreeSHA)
	}
	flat, err := store.flatten(root)
	if err != nil || len(flat) != len(files) || flat["a0"].Mode != modeExec {
		t.Fatalf("flatten round trip: %v %v", flat, err)
	}
}

func TestCommitsMatchGitCommitTree(t *testing.T) {
	dir := requireGit(t)
	store := newObjectStore()
	blob := store.putBlob([]byte("x\n"))
	gitCmd(t, dir, "x\n", nil, "hash-object", "-w", "--stdin")
	tree, _ := store.putTree([]treeEntry{{Mode: modeFile, Name: "x", SHA: blob}})
	gitTree := gitCmd(t, dir, "100644 blob "+blob+"\tx\n", nil, "mktree")
	if tree != gitTree {
		t.Fatalf("tree %s vs %s", tree, gitTree)
	}
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("", 2*3600+30*60))
	env := []string{
		"GIT_AUTHOR_NAME=Alice", "GIT_AUTHOR_EMAIL=alice@example.com", "GIT_AUTHOR_DATE=" + when.Format(time.RFC3339),
		"GIT_COMMITTER_NAME=GitHub", "GIT_COMMITTER_EMAIL=noreply@github.com", "GIT_COMMITTER_DATE=" + when.Format(time.RFC3339),
	}
	root := gitCmd(t, dir, "", env, "commit-tree", tree, "-m", "first")
	other := gitCmd(t, dir, "", env, "commit-tree", tree, "-p", root, "-m", "other")
	child := gitCmd(t, dir, "", env, "commit-tree", tree, "-p", root, "-p", other, "-m", "merge\n\nbody")
	author := Signature{Name: "Alice", Email: "alice@example.com", Date: when}
	committer := Signature{Name: "GitHub", Email: "noreply@github.com", Date: when}
	got := store.putCommit(commitData{Tree: tree, Author: author, Committer: committer, Message: "first\n"})
	if got != root {
		t.Fatalf("root commit: got %s, git commit-tree says %s", got, root)
	}
	if got := store.putCommit(commitData{Tree: tree, Parents: []string{root}, Author: author, Committer: committer, Message: "other\n"}); got != other {
		t.Fatalf("child commit: got %s, git says %s", got, other)
	}
	got = store.putCommit(commitData{Tree: tree, Parents: []string{root, other}, Author: author, Committer: committer, Message: "merge\n\nbody\n"})
	if got != child {
		t.Fatalf("merge commit: got %s, git commit-tree says %s", got, child)
	}
	c, err := store.commit(got)
	if err != nil || c.Author.Date.Unix() != when.Unix() || len(c.Parents) != 2 || c.Message != "merge\n\nbody\n" {
		t.Fatalf("decode: %+v %v", c, err)
	}
	if _, off := c.Author.Date.Zone(); off != 9000 {
		t.Fatalf("time zone offset lost: %d", off)
	}
	if !store.isAncestor(root, got) || store.isAncestor(got, root) || store.mergeBase(got, root) != root {
		t.Fatal("ancestry")
	}
}

func TestMergeTrees(t *testing.T) {
	e := func(s string) fileEntry { return fileEntry{Mode: modeFile, SHA: s} }
	base := map[string]fileEntry{"same": e("1"), "ours": e("1"), "theirs": e("1"), "both": e("1"), "gone": e("1")}
	ours := map[string]fileEntry{"same": e("1"), "ours": e("2"), "theirs": e("1"), "both": e("2"), "new": e("9")}
	theirs := map[string]fileEntry{"same": e("1"), "ours": e("1"), "theirs": e("3"), "both": e("3"), "gone": e("1")}
	got, conflicts := mergeTrees(nil, base, ours, theirs)
	if len(conflicts) != 1 || conflicts[0] != "both" {
		t.Fatalf("conflicts: %v", conflicts)
	}
	want := map[string]string{"same": "1", "ours": "2", "theirs": "3", "new": "9"}
	for p, sha := range want {
		if got[p].SHA != sha {
			t.Errorf("%s: got %q want %q", p, got[p].SHA, sha)
		}
	}
	if _, ok := got["gone"]; ok {
		t.Error("a path deleted on one side and unchanged on the other must stay deleted")
	}
}

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, old, new, patch string
		add, del              int
	}{
		{"add file", "", "a\nb\n", "@@ -0,0 +1,2 @@\n+a\n+b", 2, 0},
		{"remove file", "a\n", "", "@@ -1,1 +0,0 @@\n-a", 0, 1},
		{"change middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8", 1, 1},
		{"identical", "a\n", "a\n", "", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			patch, add, del := unifiedDiff(tc.old, tc.new)
			if patch != tc.patch || add != tc.add || del != tc.del {
				t.Fatalf("got %q +%d -%d, want %q +%d -%d", patch, add, del, tc.patch, tc.add, tc.del)
			}
		})
	}
}
