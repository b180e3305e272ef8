package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Enqueuer queues work for one request; *jobs.Queue is one.
type Enqueuer interface {
	EnqueueRequest(ctx context.Context, r jobs.Request) error
}

// Options configure a Bot.
type Options struct {
	App   *forge.App
	Queue Enqueuer
	// Defaults are the routing defaults used before a repository's own
	// rdsbot.yaml is read: the request label and the dispatch workflow file.
	// A repository's configuration is re-read (and wins) in every request job.
	Defaults *config.Config
	// DispatchEventType is the repository_dispatch event_type of requests.
	DispatchEventType string
	// ReconcileDeliveriesSince bounds how far back the reconcile looks for
	// webhook deliveries that failed (default 72h, GitHub's window).
	ReconcileDeliveriesSince time.Duration
	Logger                   *slog.Logger
	Now                      func() time.Time
}

// Bot is the App's behaviour.
type Bot struct {
	app      *forge.App
	queue    Enqueuer
	defaults *config.Config
	dispatch string
	since    time.Duration
	log      *slog.Logger
	now      func() time.Time
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
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b := &Bot{app: o.App, queue: o.Queue, defaults: o.Defaults, dispatch: o.DispatchEventType,
		since: o.ReconcileDeliveriesSince, log: o.Logger, now: o.Now}
	if b.defaults == nil {
		b.defaults = config.Default()
	}
	if b.dispatch == "" {
		b.dispatch = DefaultDispatchEventType
	}
	if b.since <= 0 {
		b.since = 72 * time.Hour
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b, nil
}

// Handlers wires the bot into the job queue.
func (b *Bot) Handlers() jobs.Handlers {
	return jobs.Handlers{Delivery: b.HandleDelivery, Request: b.HandleRequest, Reconcile: b.Reconcile}
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
	return b.queue.EnqueueRequest(ctx, jobs.Request{Repo: repo, Key: issueKey(issue), Reason: reason})
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
	planner       *gitops.Planner
}

func (b *Bot) loadRepo(ctx context.Context, c *forge.Client, repo string) (*repoContext, error) {
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
	return &repoContext{repo: repo, defaultBranch: branch, planner: p}, nil
}

// Reconcile repairs what lost webhooks left behind: failed deliveries are
// asked for again, and every open request issue of every installed
// repository gets a request job (a request already in its PR costs a few
// reads and no write).
func (b *Bot) Reconcile(ctx context.Context) error {
	var errs []error
	deliveries, err := b.app.HookDeliveries(ctx, b.now().Add(-b.since))
	if err != nil {
		errs = append(errs, err)
	}
	delivered := map[string]bool{}
	for _, d := range deliveries {
		if !d.Failed() {
			delivered[d.GUID] = true
		}
	}
	asked := map[string]bool{}
	for _, d := range deliveries {
		if d.Failed() && !delivered[d.GUID] && !asked[d.GUID] {
			asked[d.GUID] = true
			if err := b.app.Redeliver(ctx, d.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			b.log.InfoContext(ctx, "asked GitHub to redeliver a failed delivery", "delivery", d.GUID, "event", d.Event)
		}
	}
	repos, err := b.app.Repositories(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range repos {
		c, err := b.app.Installation(ctx, r.Installation)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		issues, err := c.ListIssues(ctx, r.Repo, forge.IssueFilter{State: "open", Labels: []string{b.defaults.Labels.Request}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, is := range issues {
			if is.IsPR {
				continue
			}
			if err := b.enqueue(ctx, r.Repo, is.Number, "reconcile"); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
