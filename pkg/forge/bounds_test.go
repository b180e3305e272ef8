package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// TestInstallationClientsEvict: an App keeps at most MaxInstallations
// clients (anyone can install a public App); an evicted installation gets
// a working client again, and the rate-limit states follow the clients kept.
func TestInstallationClientsEvict(t *testing.T) {
	e := newEnv(t, func(_ *githubfake.Options, c *forge.Config) { c.MaxInstallations = 2 })
	ctx := context.Background()
	app, err := forge.NewApp(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{e.inst}
	for i := range 4 {
		org := fmt.Sprintf("org%d", i)
		e.fake.AddOrg(org)
		if _, err := e.fake.AddRepo(org+"/r", map[string]string{"a.txt": "a\n"}); err != nil {
			t.Fatal(err)
		}
		id, err := e.fake.Install(e.creds.ID, org)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	first, err := app.Installation(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := app.Installation(ctx, ids[0]); again != first {
		t.Fatalf("a kept installation got a new client")
	}
	for i, id := range ids[1:] {
		c, err := app.Installation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Snapshot(ctx, fmt.Sprintf("org%d/r", i), "main"); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt, err := app.Installation(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt == first {
		t.Errorf("five installations, MaxInstallations 2: the first client was never evicted")
	}
	if _, err := rebuilt.Snapshot(ctx, repo, "main"); err != nil {
		t.Errorf("rebuilt client: %v", err)
	}
	n := 0
	for label := range app.Metrics().Snapshot().RateLimit {
		if strings.HasPrefix(label, "installation:") {
			n++
		}
	}
	if n > 2 {
		t.Errorf("rate-limit state kept for %d installations, want at most 2", n)
	}
}

// TestSharedFetchOutlivesFirstCaller: two readers need the same blob; the
// first one's context ends while the one shared request is under way. The
// first gets its own context's error at once; the second still gets the
// file, from that one request.
func TestSharedFetchOutlivesFirstCaller(t *testing.T) {
	hook := &hookTransport{next: http.DefaultTransport}
	e := newEnv(t, withTransport(hook))
	snap, err := e.client.Snapshot(context.Background(), repo, "main")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var blobGets sync.WaitGroup
	var mu sync.Mutex
	gets := 0
	hook.hook = func(r *http.Request) (*http.Response, error, bool) {
		if strings.Contains(r.URL.Path, "/git/blobs/") {
			mu.Lock()
			gets++
			mu.Unlock()
			blobGets.Done()
			<-release
		}
		return nil, nil, false
	}
	blobGets.Add(1)
	const path = "schemas/metadata/enums.yaml"
	firstCtx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := snap.WithContext(firstCtx).ReadFile(path)
		firstErr <- err
	}()
	blobGets.Wait() // the shared request is under way
	second := make(chan error, 1)
	var data []byte
	go func() {
		var err error
		data, err = snap.WithContext(context.Background()).ReadFile(path)
		second <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the second reader join the request
	cancel()
	select {
	case err := <-firstErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("first reader: %v, want its own context's cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first reader kept waiting after its context ended")
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second reader failed with the first one's context: %v", err)
	}
	if len(data) == 0 {
		t.Errorf("second reader got no data")
	}
	mu.Lock()
	defer mu.Unlock()
	if gets != 1 {
		t.Errorf("%d blob requests, want 1 shared", gets)
	}
}
