package apply_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// TestMain lets this test binary be the terraform stand-in: the tests link
// it as <dir>/terraform-standin and the runner execs that, a real process
// with the environment and working directory the runner gives it.
func TestMain(m *testing.M) {
	if tfstandin.Invoked(os.Args[0]) {
		os.Exit(tfstandin.Main(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const repo = "acme/infra"

// env is githubfake serving the example repository with the App installed,
// a forge client for it, and the stand-in terraform.
type env struct {
	t      *testing.T
	fake   *githubfake.Fake
	client *forge.Client
	base   string // main's first commit
	bin    string // the stand-in's path
	state  string // the stand-in's directory
	work   string // apply.terraform.work_dir
	cfg    config.Apply
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := githubfake.New(githubfake.Options{})
	url, err := fake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	fake.AddOrg("acme")
	files := map[string]string{}
	err = fs.WalkDir(rdsbot.Example(), ".", func(p string, d fs.DirEntry, err error) error {
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
	base, err := fake.AddRepo(repo, files)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := fake.NewApp("rdsbot", "acme")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := fake.Install(creds.ID, "acme")
	if err != nil {
		t.Fatal(err)
	}
	app, err := forge.NewApp(forge.Config{BaseURL: url, AppID: creds.ID, PrivateKey: creds.PEM, Pacing: []forge.Window{},
		Retry: forge.RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, AttemptTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := app.Installation(context.Background(), inst)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin", "terraform-standin")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultApply()
	cfg.Terraform.Binary = bin
	cfg.Terraform.WorkDir = work
	cfg.Terraform.KillGrace = 200 * time.Millisecond
	cfg.Terraform.Env = map[string]string{"TF_PLUGIN_CACHE_DIR": "/var/cache/terraform"}
	return &env{t: t, fake: fake, client: client, base: base, bin: bin, state: bin + ".d", work: work, cfg: cfg}
}

func (e *env) repos(ctx context.Context, r string) (*forge.Client, error) { return e.client, nil }

func (e *env) local() *apply.Local { return apply.NewLocal(e.cfg, e.repos, apply.Options{}) }

func (e *env) calls() []tfstandin.Call {
	e.t.Helper()
	calls, err := tfstandin.ReadCalls(e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	return calls
}

func (e *env) control(c tfstandin.Control) {
	e.t.Helper()
	if err := tfstandin.WriteControl(e.state, c); err != nil {
		e.t.Fatal(err)
	}
}

func githubfakeChange(path, content string) githubfake.Change {
	return githubfake.Change{Files: map[string]string{path: content}}
}
