package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
)

// Status is how a run ended.
type Status string

const (
	// Succeeded: terraform ran in every root (the plan was applied, or for
	// Plan: planned) and the plan passed the policy.
	Succeeded Status = "succeeded"
	// Refused: a plan would destroy or replace a protected resource (or
	// could not be checked), so nothing was applied.
	Refused Status = "refused"
	// Failed: terraform (or the workflow) failed.
	Failed Status = "failed"
	// TimedOut: the run took longer than its timeout; terraform was
	// interrupted and its process group killed (local), or the workflow run
	// was given up on (actions).
	TimedOut Status = "timed_out"
	// Cancelled: the caller's context ended, or the workflow run was cancelled.
	Cancelled Status = "cancelled"
)

// Request is one plan or apply of one environment at one commit.
type Request struct {
	Repo string // owner/name
	Env  string
	// Ref is the branch the commit is on: the actions runner dispatches the
	// workflow there (GitHub dispatches on branches and tags, not commits).
	Ref string
	// SHA is the commit: the merge commit for an apply, the head for a plan.
	SHA string
	// Roots are the terraform roots to run in, in order; empty: every root
	// of the environment (config apply.roots).
	Roots []string
	// RequestIDs are the requests the commit carries (RDS-0042, ...).
	RequestIDs []string
	// Key names this apply for idempotency: the actions runner puts it in
	// the run's name and finds the run by it, so a second Start with the
	// same key returns the first run instead of dispatching again. Empty:
	// derived from repository, environment and commit.
	Key string
	// AllowDestroy are address patterns the plan may destroy although they
	// are protected (a decommission approved with break-glass).
	AllowDestroy []string
	// Rerun asks the actions runner to run again a run of the same key that
	// ended without success (its failed jobs: the next run_attempt) rather
	// than report that run's end again. A run still going or one that
	// succeeded is followed as it is. The local runner always runs afresh.
	Rerun bool
	// Failed is the run whose failure Rerun runs again, at the attempt that
	// failed, as recorded then. An attempt of it newer than Failed.Attempt
	// (a re-run an interrupted retry already started, or a person's) is
	// followed instead of re-running again, and a new run dispatched when
	// GitHub refuses the re-run is followed as it is. Nil: the run is found
	// by the key.
	Failed *Run
	// Log receives the run's log as it happens; nil discards it.
	Log io.Writer
}

// RunKey is the request's idempotency key.
func (r Request) RunKey() string {
	if r.Key != "" {
		return r.Key
	}
	sum := sha256.Sum256([]byte(r.Repo + "\x00" + r.Env + "\x00" + r.SHA))
	return "rdsbot-" + hex.EncodeToString(sum[:6])
}

// Outcome is how a plan or an apply ended.
type Outcome struct {
	Status Status
	// Reason is one sentence on why, for comments and logs.
	Reason string
	// Roots are the results per root, in the order they ran (local runner).
	Roots []RootResult
	// Excerpt is the end of the log (at most ExcerptLines lines), secrets
	// masked: what a failure comment shows.
	Excerpt string
	// Run is the workflow run (actions runner).
	Run *Run
	// Started and Finished bound the run.
	Started, Finished time.Time
}

// OK reports whether the outcome is a success.
func (o *Outcome) OK() bool { return o != nil && o.Status == Succeeded }

// RootResult is the result of one terraform root.
type RootResult struct {
	Root   string
	Status Status
	// Plan summarises the plan made in this root (nil when planning failed).
	Plan *Summary
	// PlanText is `terraform show` of the saved plan (Plan only; capped).
	PlanText string
	// PlanTextCut: PlanText was cut at MaxPlanText.
	PlanTextCut bool
	// Applied are terraform's counts of what apply did.
	Applied *Counts
}

// Counts are added, changed and destroyed resources.
type Counts struct{ Add, Change, Destroy int }

// Runner runs plans and applies of an environment. An error means the
// outcome is unknown (GitHub unreachable, the checkout failed): the caller
// may try again. A run that ended is an Outcome, whatever its status.
type Runner interface {
	// Kind is config.RunnerLocal or config.RunnerActions.
	Kind() string
	// Apply applies the commit in the request's roots and waits for the end.
	Apply(ctx context.Context, req Request) (*Outcome, error)
}

// Repos returns the GitHub client of a repository's installation
// (forge.App.ForRepo).
type Repos func(ctx context.Context, repo string) (*forge.Client, error)

// Options are what the runners take besides the configuration.
type Options struct {
	// Getenv reads rdsbot's own environment for apply.terraform.pass_env
	// (default os.Getenv).
	Getenv func(string) string
	// Logger receives one line per run step (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Set holds the runners of a configuration and picks one per environment.
type Set struct {
	cfg     config.Apply
	Local   *Local
	Actions *Actions
}

// New builds the runners of a configuration. The local runner resolves its
// binary when it first runs (once, for the process's life), so a
// configuration that uses only actions needs no terraform installed.
func New(cfg config.Apply, repos Repos, opts Options) *Set {
	return &Set{cfg: cfg, Local: NewLocal(cfg, repos, opts), Actions: NewActions(cfg, repos, opts)}
}

// For is the runner of an environment.
func (s *Set) For(env string) Runner {
	if s.cfg.RunnerFor(env) == config.RunnerLocal {
		return s.Local
	}
	return s.Actions
}

// Planner is the runner of pull-request plans (always local: the bot runs
// terraform plan itself), or nil when the environment's plans are skipped.
func (s *Set) Planner(env string) *Local {
	if s.cfg.PlanSkipped(env) {
		return nil
	}
	return s.Local
}

func (s Status) String() string { return string(s) }

func errorf(format string, args ...any) error { return fmt.Errorf("apply: "+format, args...) }
