package diff

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// changedLines is two files of n lines where every line differs.
func changedLines(n int) (old, new []byte) {
	var a, b strings.Builder
	for i := range n {
		fmt.Fprintf(&a, "old line %d of the first file\n", i)
		fmt.Fprintf(&b, "new line %d of the second file\n", i)
	}
	return []byte(a.String()), []byte(b.String())
}

// interleaved is two files of n lines where every other line differs:
// thousands of separate changes, the worst case for an edit search.
func interleaved(n int) (old, new []byte) {
	var a, b strings.Builder
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&a, "same %d\n", i)
			fmt.Fprintf(&b, "same %d\n", i)
			continue
		}
		fmt.Fprintf(&a, "was %d\n", i)
		fmt.Fprintf(&b, "is %d\n", i)
	}
	return []byte(a.String()), []byte(b.String())
}

// TestLinearSpace: diffing two files of 4,000 changed lines allocates a few
// MiB (the output itself is about 0.5 MiB), not the 1 GiB that keeping every
// V array of the textbook Myers algorithm took.
func TestLinearSpace(t *testing.T) {
	const bound = 32 << 20
	cases := map[string]func(int) ([]byte, []byte){"all changed": changedLines, "interleaved": interleaved}
	for name, gen := range cases {
		t.Run(name, func(t *testing.T) {
			old, new := gen(4000)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d := Unified("big.txt", old, new)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of diff, %.1f MiB allocated", len(d), float64(alloc)/(1<<20))
			if alloc > bound {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, bound>>20)
			}
			if !strings.HasPrefix(d, "--- a/big.txt\n+++ b/big.txt\n@@ ") {
				t.Errorf("not a unified diff: %.80q", d)
			}
			if got := applyPatch(t, old, d); got != nil && !bytes.Equal(got, new) {
				t.Errorf("the diff does not turn the old file into the new one")
			}
		})
	}
}

// applyPatch applies a diff with `git apply` and returns the result (nil
// when git is missing).
func applyPatch(t *testing.T, old []byte, d string) []byte {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return nil
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "big.txt"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.diff"), []byte(d), 0o644); err != nil {
		t.Fatal(err)
	}
	run("apply", "p.diff")
	got, err := os.ReadFile(filepath.Join(dir, "big.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func BenchmarkUnified(b *testing.B) {
	cases := []struct {
		name string
		gen  func(int) ([]byte, []byte)
		n    int
	}{
		{"all-changed-4000", changedLines, 4000},
		{"interleaved-4000", interleaved, 4000},
		{"one-change-4000", func(n int) ([]byte, []byte) {
			old, _ := interleaved(n)
			return old, bytes.Replace(old, []byte("was 2001\n"), []byte("is 2001\n"), 1)
		}, 4000},
	}
	for _, c := range cases {
		old, new := c.gen(c.n)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Unified("big.txt", old, new)
			}
		})
	}
}

// TestSlidesLikeGit: a block added after a closing brace that itself ends
// in one is shown whole, as git shows it, not shifted by one line.
func TestSlidesLikeGit(t *testing.T) {
	old := "m = {\n  a = {\n    x = 1\n  }\n}\n"
	added := "m = {\n  a = {\n    x = 1\n  }\n  b = {\n    x = 2\n  }\n}\n"
	cases := []struct{ name, old, new, want string }{
		{"insert", old, added, "--- a/f\n+++ b/f\n@@ -2,4 +2,7 @@\n   a = {\n     x = 1\n   }\n+  b = {\n+    x = 2\n+  }\n }\n"},
		{"delete", added, old, "--- a/f\n+++ b/f\n@@ -2,7 +2,4 @@\n   a = {\n     x = 1\n   }\n-  b = {\n-    x = 2\n-  }\n }\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Unified("f", []byte(c.old), []byte(c.new)); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
