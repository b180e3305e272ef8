package apply

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMaterialize(t *testing.T) {
	src := fstest.MapFS{
		"envs/dev-rds/main.tf": {Data: []byte("# main\n")},
		"scripts/run.sh":       {Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		"envs/dev-rds/modules": {Data: []byte("../../modules"), Mode: os.ModeSymlink},
		"modules/rds/main.tf":  {Data: []byte("# module\n")},
		"vendor/sub":           {Mode: os.ModeIrregular},
		"docs/readme.md":       {Data: []byte("hello\n")},
	}
	dir := t.TempDir()
	n, err := materialize(src, dir, newLogSink(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d files", n)
	}
	if st, err := os.Stat(filepath.Join(dir, "scripts/run.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("executable bit lost: %v %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "envs/dev-rds/modules/rds/main.tf")); err != nil || string(b) != "# module\n" {
		t.Errorf("link inside the tree: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "vendor/sub")); err == nil {
		t.Error("a submodule was written")
	}
	for _, target := range []string{"/etc/passwd", "../../../../etc", "../.."} {
		bad := fstest.MapFS{"envs/link": {Data: []byte(target), Mode: os.ModeSymlink}}
		if _, err := materialize(bad, t.TempDir(), newLogSink(nil, nil)); err == nil || !strings.Contains(err.Error(), "out of the repository") {
			t.Errorf("link to %s: %v", target, err)
		}
	}
}

func TestLogSinkMasksAndBounds(t *testing.T) {
	var out bytes.Buffer
	l := newLogSink(&out, []string{"s3cr3t-value", "abc"})
	w := &lineWriter{fn: func(b []byte) { l.line(string(b)) }}
	w.Write([]byte("token s3cr3t-value here\npartial "))
	w.Write([]byte("line abc\n" + strings.Repeat("x", 3*MaxLine) + "\n"))
	w.close()
	if strings.Contains(out.String(), "s3cr3t") || !strings.Contains(out.String(), "token *** here") || !strings.Contains(out.String(), "partial line abc") {
		t.Errorf("log:\n%.200s", out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if len(line) > MaxLine {
			t.Fatalf("a line of %d bytes was kept", len(line))
		}
	}
	for i := range 100 {
		l.linef("line %d", i)
	}
	ex := strings.Split(l.excerpt(), "\n")
	if len(ex) != ExcerptLines || ex[len(ex)-1] != "line 99" || ex[0] != "line 60" {
		t.Errorf("excerpt %d lines, %q .. %q", len(ex), ex[0], ex[len(ex)-1])
	}
}
