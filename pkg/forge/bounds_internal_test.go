package forge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// TestETagCacheBounded: thousands of distinct small responses (a few
// bytes of body, a kilobyte of URL and headers each) keep the cache under
// its bound counting keys and headers, not only bodies; recent entries
// still revalidate with a 304.
func TestETagCacheBounded(t *testing.T) {
	const maxBytes = 256 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag := `"` + r.URL.Path + `"`
		w.Header().Set("ETag", etag)
		w.Header().Set("X-Padding", strings.Repeat("p", 512))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, "[]")
	}))
	defer srv.Close()
	store := newETagStore(maxBytes)
	client := &http.Client{Transport: &etagCache{next: http.DefaultTransport, store: store, prefix: "installation:1"}}
	get := func(i int) *http.Response {
		t.Helper()
		resp, err := client.Get(fmt.Sprintf("%s/%s/%d", srv.URL, strings.Repeat("x", 400), i))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	const n = 3000
	for i := range n {
		get(i)
	}
	entries, size := store.stats()
	t.Logf("%d responses: %d entries, %d bytes kept", n, entries, size)
	if size > maxBytes || entries >= n {
		t.Errorf("%d entries of %d bytes in all; want at most %d bytes", entries, size, maxBytes)
	}
	if resp := get(n - 1); resp.Header.Get(cacheHeader) != "revalidated" {
		t.Errorf("the most recent entry was not revalidated")
	}
}

// TestSnapshotStoreBounded: blobs and tree listings of every client stay
// under the App's one bound; commits are counted.
func TestSnapshotStoreBounded(t *testing.T) {
	const maxBytes = 1 << 20
	st := newSnapshotStore(maxBytes, time.Second)
	blob := make([]byte, 10<<10)
	for i := range 1000 {
		st.blobs.add(fmt.Sprintf("installation:%d\x00o/r@%040d", i%7, i), blob)
	}
	tree := &github.Tree{SHA: github.String("t")}
	for i := range 200 {
		tree.Entries = append(tree.Entries, &github.TreeEntry{Path: github.String(fmt.Sprintf("dir/file-%04d.yaml", i)),
			Mode: github.String("100644"), Type: github.String("blob"), SHA: github.String(strings.Repeat("a", 40))})
	}
	for i := range 500 {
		st.indexes.add(fmt.Sprintf("installation:1\x00o/r@%040d", i), newTreeIndex("c", tree))
	}
	for i := range 2 * maxCommits {
		st.commits.add(fmt.Sprint(i), &commitInfo{SHA: fmt.Sprint(i)})
	}
	bn, bb := st.blobs.stats()
	in, ib := st.indexes.stats()
	cn, _ := st.commits.stats()
	t.Logf("blobs: %d, %d bytes; listings: %d, %d bytes; commits: %d", bn, bb, in, ib, cn)
	if bb+ib > maxBytes || bn == 0 || in == 0 {
		t.Errorf("blobs and listings hold %d bytes, want at most %d (and some of each)", bb+ib, maxBytes)
	}
	if cn > maxCommits {
		t.Errorf("%d commits kept, want at most %d", cn, maxCommits)
	}
}

// TestTeamCacheBounded: memberships of as many logins as events can name
// stay under the entry bound; answers expire after the TTL.
func TestTeamCacheBounded(t *testing.T) {
	tc := newTeamCache(time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tc.now = func() time.Time { return now }
	for i := range 3 * maxTeamEntries {
		tc.put(fmt.Sprintf("acme/platform/user-%d", i), true)
	}
	if n := tc.len(); n > maxTeamEntries {
		t.Errorf("%d memberships kept, want at most %d", n, maxTeamEntries)
	}
	last := fmt.Sprintf("acme/platform/user-%d", 3*maxTeamEntries-1)
	if m, ok := tc.get(last); !ok || !m {
		t.Errorf("the most recent answer is gone")
	}
	now = now.Add(time.Minute)
	if _, ok := tc.get(last); ok {
		t.Errorf("an answer outlived its TTL")
	}
}

// TestLabelMemoBounded: only the labels asked about are remembered, for a
// bounded number of repositories.
func TestLabelMemoBounded(t *testing.T) {
	m := newLabelMemo()
	for i := range 2 * maxLabelRepos {
		names := make([]string, 0, 2*maxLabelsPerRepo)
		for j := range 2 * maxLabelsPerRepo {
			names = append(names, fmt.Sprintf("label-%d", j))
		}
		m.add(fmt.Sprintf("installation:1\x00o/r%d", i), names...)
	}
	if n := m.repos.Len(); n > maxLabelRepos {
		t.Errorf("%d repositories remembered, want at most %d", n, maxLabelRepos)
	}
	for _, k := range m.repos.Keys() {
		if known, _ := m.repos.Peek(k); len(known) > maxLabelsPerRepo {
			t.Fatalf("%d labels remembered for %s, want at most %d", len(known), k, maxLabelsPerRepo)
		}
	}
}
