package forge_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/gitops"
)

const repo = "acme/infra"

var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// env is githubfake serving the example repository, with the rdsbot App
// installed on acme and a forge client for the installation.
type env struct {
	t      testing.TB
	fake   *githubfake.Fake
	url    string
	app    *forge.App
	client *forge.Client
	creds  githubfake.AppCredentials
	inst   int64
	cfg    forge.Config
	base   string // main's initial commit
}

type envOption func(*githubfake.Options, *forge.Config)

// fastRetries keeps backoff short so tests with faults stay quick.
func fastRetries(o *githubfake.Options, c *forge.Config) {
	c.Retry = forge.RetryPolicy{MaxAttempts: 6, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		AttemptTimeout: 5 * time.Second}
}

// unlimited lifts the fake's limits and forge's pacing (benchmarks).
func unlimited(o *githubfake.Options, c *forge.Config) {
	o.RateLimit = 1 << 30
	o.SecondaryLimits = []githubfake.Window{{Max: 1 << 30, Per: time.Second}}
	c.Pacing = []forge.Window{}
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	fo := githubfake.Options{SecondaryRetryAfter: time.Second}
	// One ledger for every App made from cfg: replicas share theirs.
	cfg := forge.Config{Pacing: []forge.Window{}, Ledger: forge.NewMemoryLedger(0)}
	fastRetries(&fo, &cfg)
	for _, o := range opts {
		o(&fo, &cfg)
	}
	fake := githubfake.New(fo)
	url, err := fake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	fake.AddOrg("acme")
	base, err := fake.AddRepo(repo, exampleFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := fake.NewApp("rdsbot", "acme")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := fake.Install(creds.ID, "acme", "infra")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL, cfg.AppID, cfg.PrivateKey = url, creds.ID, creds.PEM
	app, err := forge.NewApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := app.Installation(context.Background(), inst)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, fake: fake, url: url, app: app, client: client, creds: creds, inst: inst, cfg: cfg, base: base}
	// Mint the installation token now, so counts below are per operation.
	if _, _, err := client.GitHub().Repositories.Get(context.Background(), "acme", "infra"); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	return e
}

func (e *env) resetCalls() {
	e.fake.ResetCalls()
	e.app.Metrics().Reset()
}

// exampleFiles is the example GitOps repository (schemas, envs, catalog, workflows).
func exampleFiles(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(rdsbot.Example(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(rdsbot.Example(), p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// requestPlan plans a database request with the real planner on the snapshot.
func requestPlan(fields map[string]string) forge.PlanFunc {
	values := map[string]string{
		"databaseName": "orders_service", "username": "orders_app", "owner": "app-team",
		"domain": "delivery", "risk": "medium", "size": "small", "requester": "jane-doe",
		"backupRetentionDays": "14", "multiAz": "true", "environment": "dev",
	}
	for k, v := range fields {
		values[k] = v
	}
	return func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error) {
		p, err := gitops.New(snap)
		if err != nil {
			return nil, err
		}
		req, probs := contract.Validate(p.Schema, contract.FromFlags(values))
		if err := probs.Err(); err != nil {
			return nil, err
		}
		return p.PlanRequest(snap, req.WithID("RDS-0042"), now)
	}
}

func proposal(fields map[string]string) forge.Proposal {
	return forge.Proposal{Repo: repo, Base: "main", Plan: requestPlan(fields)}
}

// staticPlan is a fixed change set on a branch.
func staticPlan(branch string, files map[string]string, labels ...string) forge.PlanFunc {
	return func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error) {
		p := &gitops.Plan{Branch: branch, Base: "main", Title: "Update " + branch, Body: "Body of " + branch,
			CommitMessage: "update " + branch, Labels: labels}
		for path, content := range files {
			old, err := fs.ReadFile(snap, path)
			if err != nil {
				old = nil
			}
			if string(old) == content {
				continue
			}
			p.Changes = append(p.Changes, gitops.Change{Path: path, Old: old, New: []byte(content)})
		}
		return p, nil
	}
}

// calls is the fake's per-route count as forge's metrics see it, checked
// against the fake's own count.
func (e *env) calls() map[string]int {
	e.t.Helper()
	got := e.fake.Calls()
	snap := e.app.Metrics().Snapshot()
	for ep, n := range got {
		if int64(n) != snap.Count(ep) {
			e.t.Errorf("%s: fake counted %d calls, forge %d", ep, n, snap.Count(ep))
		}
	}
	if int64(e.fake.TotalCalls()) != snap.Total {
		e.t.Errorf("fake counted %d calls in all, forge %d", e.fake.TotalCalls(), snap.Total)
	}
	return got
}

// hookTransport runs a function before forwarding matching requests.
type hookTransport struct {
	next http.RoundTripper
	hook func(*http.Request) (*http.Response, error, bool)
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.hook != nil {
		if resp, err, done := h.hook(r); done {
			return resp, err
		}
	}
	return h.next.RoundTrip(r)
}

func withTransport(rt http.RoundTripper) envOption {
	return func(o *githubfake.Options, c *forge.Config) { c.Transport = rt }
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func fmtCalls(m map[string]int) string {
	s := ""
	for _, k := range sortedKeys(m) {
		s += fmt.Sprintf("  %s: %d\n", k, m[k])
	}
	return s
}
