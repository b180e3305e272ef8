package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Enqueuer queues jobs; *jobs.Queue is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, args river.JobArgs) error
}

// Options configure a Bot.
type Options struct {
	App   *forge.App
	Queue Enqueuer
	// Ledger holds the facts the bot recorded itself (its commits, request
	// origins, name claims, its pull requests, accepted request texts).
	Ledger *ledger.Ledger
	// DispatchEventType is the repository_dispatch event_type of requests.
	DispatchEventType string
	// ReconcileDeliveriesSince bounds how far back the reconcile looks for
	// webhook deliveries that failed (default 72h, GitHub's window).
	ReconcileDeliveriesSince time.Duration
	// MaxRedeliveries is how often the reconcile asks GitHub to redeliver
	// one failed delivery (default 3).
	MaxRedeliveries int
	// ConfigMaxAge is how long a repository's rdsbot.yaml read for routing
	// a delivery is reused without asking GitHub again (default 30s).
	// Request jobs always read it afresh.
	ConfigMaxAge time.Duration
	// ReconcileEvery is the period of the reconcile job (default 15
	// minutes; negative disables it).
	ReconcileEvery time.Duration
	// RetryDelay spaces the retries of a failing request job (default: one
	// second, doubled per attempt, at most a minute: request jobs re-derive
	// everything from GitHub, so trying again soon is cheap).
	RetryDelay func(attempt int) time.Duration
	// Workers is how many request jobs run at once per process (0: the
	// queue's default).
	Workers int
	// Rollout are the host's settings of plans, applies and provisioning.
	Rollout RolloutOptions
	Logger  *slog.Logger
	Now     func() time.Time
}

// Bot is the App's behaviour.
type Bot struct {
	app       *forge.App
	queue     Enqueuer
	ledger    *ledger.Ledger
	dispatch  string
	since     time.Duration
	maxRedel  int
	maxAge    time.Duration
	reconcile time.Duration
	retry     func(attempt int) time.Duration
	workers   int
	log       *slog.Logger
	now       func() time.Time
	handlers  map[string]EventHandler

	repos     repoCache
	gateCache contentCache
	rollout   RolloutOptions
	sets      runnerSets
	// groupPlans are the merge group plans running here (a *groupPlan per
	// repository@head), stopped when GitHub destroys the group.
	groupPlans sync.Map
}

// DefaultDispatchEventType is the repository_dispatch event_type rdsbot takes.
const DefaultDispatchEventType = "rds-request"

// New checks the options and returns a Bot.
func New(o Options) (*Bot, error) {
	var errs []error
	if o.App == nil {
		errs = append(errs, errors.New("bot: App is required"))
	}
	if o.Queue == nil {
		errs = append(errs, errors.New("bot: Queue is required"))
	}
	if o.Ledger == nil {
		errs = append(errs, errors.New("bot: Ledger is required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b := &Bot{app: o.App, queue: o.Queue, ledger: o.Ledger, dispatch: o.DispatchEventType,
		since: o.ReconcileDeliveriesSince, maxRedel: o.MaxRedeliveries, maxAge: o.ConfigMaxAge,
		reconcile: o.ReconcileEvery, retry: o.RetryDelay, workers: o.Workers, rollout: o.Rollout,
		log: o.Logger, now: o.Now, repos: repoCache{m: map[string]*repoContext{}}}
	if b.reconcile == 0 {
		b.reconcile = 15 * time.Minute
	}
	if b.retry == nil {
		b.retry = jobs.Backoff(time.Second, time.Minute)
	}
	if b.dispatch == "" {
		b.dispatch = DefaultDispatchEventType
	}
	if b.since <= 0 {
		b.since = 72 * time.Hour
	}
	if b.maxRedel <= 0 {
		b.maxRedel = 3
	}
	if b.maxAge <= 0 {
		b.maxAge = 30 * time.Second
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.handlers = map[string]EventHandler{}
	for _, h := range b.eventHandlers() {
		for _, ev := range h.Events() {
			b.handlers[ev] = h
		}
	}
	return b, nil
}

// eventHandlers are the bot's handlers, one per event kind.
func (b *Bot) eventHandlers() []EventHandler {
	return []EventHandler{
		&issuesHandler{b}, &commentHandler{b}, &workflowDispatchHandler{b},
		&repositoryDispatchHandler{b}, &pushHandler{b}, &gatePullHandler{b: b, request: &pullHandler{b}},
		&reviewHandler{b}, &mergeGroupHandler{b}, &membershipHandler{b}, &workflowRunHandler{b},
	}
}

// Request job keys name the request issue: "issue/<number>".
const keyPrefix = "issue/"

func issueKey(n int) string { return keyPrefix + strconv.Itoa(n) }

func parseKey(key string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(key, keyPrefix))
	if err != nil || !strings.HasPrefix(key, keyPrefix) || n <= 0 {
		return 0, fmt.Errorf("bot: request key %q is not issue/<number>", key)
	}
	return n, nil
}

func (b *Bot) enqueue(ctx context.Context, repo string, issue int, reason string) error {
	return b.queue.Enqueue(ctx, RequestArgs{Repo: repo, Key: issueKey(issue), Reason: reason})
}

// client returns the installation client of a delivery or a repository.
func (b *Bot) client(ctx context.Context, d *webhook.Delivery, repo string) (*forge.Client, error) {
	if d != nil && d.InstallationID != 0 {
		return b.app.Installation(ctx, d.InstallationID)
	}
	return b.app.ForRepo(ctx, repo)
}

// repoContext is a repository's configuration and planner, read from its
// default branch.
type repoContext struct {
	repo          string
	defaultBranch string
	sha           string
	planner       *gitops.Planner
	read          time.Time
}

func (rc *repoContext) config() *config.Config { return rc.planner.Config }

// repoCache keeps the last configuration read per repository, for routing
// deliveries without reading the repository again for each.
type repoCache struct {
	mu sync.Mutex
	m  map[string]*repoContext
}

// maxCachedRepos bounds the cache: one entry per installed repository is
// the normal size; beyond it the oldest entries go.
const maxCachedRepos = 512

func (c *repoCache) get(repo string, maxAge time.Duration, now time.Time) *repoContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.m[repo]
	if rc == nil || now.Sub(rc.read) > maxAge {
		return nil
	}
	return rc
}

func (c *repoCache) put(rc *repoContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedRepos {
		var oldest string
		for k, v := range c.m {
			if oldest == "" || v.read.Before(c.m[oldest].read) {
				oldest = k
			}
		}
		delete(c.m, oldest)
	}
	c.m[rc.repo] = rc
}

// loadRepo reads a repository's configuration and schemas from its default
// branch. maxAge > 0 accepts a copy read that recently (routing decisions);
// request jobs pass 0 and always read the current head.
func (b *Bot) loadRepo(ctx context.Context, c *forge.Client, repo string, maxAge time.Duration) (*repoContext, error) {
	if maxAge > 0 {
		if rc := b.repos.get(repo, maxAge, b.now()); rc != nil {
			return rc, nil
		}
	}
	owner, name, _ := strings.Cut(repo, "/")
	r, _, err := c.GitHub().Repositories.Get(ctx, owner, name)
	if err != nil {
		return nil, fmt.Errorf("read repository %s: %w", repo, err)
	}
	branch := r.GetDefaultBranch()
	snap, err := c.Snapshot(ctx, repo, branch)
	if err != nil {
		return nil, err
	}
	p, err := gitops.New(snap.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", repo, branch, err)
	}
	rc := &repoContext{repo: repo, defaultBranch: branch, sha: snap.SHA, planner: p, read: b.now()}
	b.repos.put(rc)
	return rc, nil
}

// inTeams reports whether login is an active member of any of the teams
// (slugs in the repository's organisation; members of child teams count,
// pending invitations do not). Each team costs one read, asked afresh so a
// removal counts at once.
func inTeams(ctx context.Context, c *forge.Client, repo, login string, teams []string) (bool, error) {
	org, _, _ := strings.Cut(repo, "/")
	for _, team := range teams {
		m, err := c.TeamMembership(ctx, org, team, login)
		if err != nil {
			return false, err
		}
		if m.State == forge.MemberActive {
			return true, nil
		}
	}
	return false, nil
}
