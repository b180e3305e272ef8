package bot

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/provision"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// RolloutOptions are the host's side of plans, applies and provisioning:
// what a repository's rdsbot.yaml may not choose for the machine rdsbot
// runs on.
type RolloutOptions struct {
	// Off records merges but plans and applies nothing: merged requests
	// stay "merged" (tests of the intake and the gate, which have no
	// runner).
	Off bool
	// Runner forces the runner of every environment (local or actions);
	// empty: each repository's apply.runner and apply.runners.
	Runner string
	// Terraform is the binary the local runner and plans run (a name on
	// terraform's PATH or a path); empty: the repository's
	// apply.terraform.binary.
	Terraform string
	// TerraformEnv are variables added to terraform's environment.
	TerraformEnv map[string]string
	// WorkDir is where checkouts are made; empty: the repository's setting.
	WorkDir string
	// Secrets is the store of the master and application secrets for
	// in-process provisioning (the local runner). Nil: provisioning after
	// a local apply is a dry run, and the status says so.
	Secrets secrets.Store
	// Admin overrides the master secret's host, port and TLS settings.
	Admin provision.Admin
	// DryRun provisions nothing: the statements are reported only.
	DryRun bool
	// GenerateMissing creates an application secret that does not exist.
	GenerateMissing bool
	// Debounce is how long an apply waits after the newest merge of its
	// environment, so merges that arrive close together make one apply of
	// the newest commit (default 5s; negative: none).
	Debounce time.Duration
	// Getenv reads rdsbot's environment for apply.terraform.pass_env.
	Getenv func(string) string
}

func (o RolloutOptions) debounce() time.Duration {
	switch {
	case o.Debounce < 0:
		return 0
	case o.Debounce == 0:
		return 5 * time.Second
	}
	return o.Debounce
}

// applyConfig is a repository's apply configuration with the host's
// overrides.
func (o RolloutOptions) applyConfig(cfg config.Apply) config.Apply {
	if o.Runner != "" {
		cfg.Runner, cfg.Runners = o.Runner, nil
	}
	if o.Terraform != "" {
		cfg.Terraform.Binary = o.Terraform
	}
	if o.WorkDir != "" {
		cfg.Terraform.WorkDir = o.WorkDir
	}
	if len(o.TerraformEnv) > 0 {
		env := make(map[string]string, len(cfg.Terraform.Env)+len(o.TerraformEnv))
		for k, v := range cfg.Terraform.Env {
			env[k] = v
		}
		for k, v := range o.TerraformEnv {
			env[k] = v
		}
		cfg.Terraform.Env = env
	}
	return cfg
}

// runnerSets keeps one apply.Set per repository, so the actions runner
// that waits for a workflow run is the one workflow_run webhooks reach. A
// changed configuration gets a new set; waiters on the old one keep
// polling.
type runnerSets struct {
	mu sync.Mutex
	m  map[string]*runnerSet
}

type runnerSet struct {
	cfg config.Apply
	set *apply.Set
}

// runners returns the runners of a repository under its current apply
// configuration.
func (b *Bot) runners(repo string, cfg config.Apply) *apply.Set {
	cfg = b.rollout.applyConfig(cfg)
	b.sets.mu.Lock()
	defer b.sets.mu.Unlock()
	if b.sets.m == nil {
		b.sets.m = map[string]*runnerSet{}
	}
	if rs := b.sets.m[repo]; rs != nil && reflect.DeepEqual(rs.cfg, cfg) {
		return rs.set
	}
	if len(b.sets.m) >= maxCachedRepos {
		clear(b.sets.m)
	}
	set := apply.New(cfg, func(ctx context.Context, r string) (*forge.Client, error) { return b.app.ForRepo(ctx, r) },
		apply.Options{Getenv: b.rollout.Getenv, Logger: b.log, Now: b.now})
	b.sets.m[repo] = &runnerSet{cfg: cfg, set: set}
	return set
}
