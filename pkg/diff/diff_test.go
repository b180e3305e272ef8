package diff

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMatchesGit compares Unified with `git diff --no-index` on the same
// files: the hunks must apply identically (checked with `git apply`).
func TestAppliesWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	cases := map[string][2]string{
		"insert middle":    {"a\nb\nc\nd\ne\nf\ng\nh\n", "a\nb\nc\nd\nX\ne\nf\ng\nh\n"},
		"delete and add":   {"one\ntwo\nthree\n", "zero\none\nthree\nfour\n"},
		"far apart":        {strings.Repeat("l\n", 5) + "x\n" + strings.Repeat("m\n", 20) + "y\n", strings.Repeat("l\n", 5) + "X\n" + strings.Repeat("m\n", 20) + "Y\n"},
		"no final newline": {"a\nb", "a\nc"},
		"empty to text":    {"", "hello\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			run := func(args ...string) {
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			run("init", "-q")
			if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(c[0]), 0o644); err != nil {
				t.Fatal(err)
			}
			d := Unified("f.txt", []byte(c[0]), []byte(c[1]))
			if err := os.WriteFile(filepath.Join(dir, "p.diff"), []byte(d), 0o644); err != nil {
				t.Fatal(err)
			}
			run("apply", "--unidiff-zero", "p.diff")
			got, _ := os.ReadFile(filepath.Join(dir, "f.txt"))
			if string(got) != c[1] {
				t.Errorf("patch applied to %q, want %q\n%s", got, c[1], d)
			}
		})
	}
}

func TestEqualIsEmpty(t *testing.T) {
	if d := Unified("x", []byte("a\n"), []byte("a\n")); d != "" {
		t.Errorf("got %q", d)
	}
}

func TestNewFile(t *testing.T) {
	d := Unified("x", nil, []byte("a\n"))
	if !strings.HasPrefix(d, "--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+a\n") {
		t.Errorf("got %q", d)
	}
}
