package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/jobs"
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
	// Defaults are the routing defaults used before a repository's own
	// rdsbot.yaml is read: the request label and the dispatch workflow file.
	// A repository's configuration is re-read (and wins) in every request job.
	Defaults *config.Config
	// DispatchEventType is the repository_dispatch event_type of requests.
	DispatchEventType string
	// ReconcileDeliveriesSince bounds how far back the reconcile looks for
	// webhook deliveries that failed (default 72h, GitHub's window).
	ReconcileDeliveriesSince time.Duration
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
	Logger  *slog.Logger
	Now     func() time.Time
}

// Bot is the App's behaviour.
type Bot struct {
	app       *forge.App
	queue     Enqueuer
	defaults  *config.Config
	dispatch  string
	since     time.Duration
	reconcile time.Duration
	retry     func(attempt int) time.Duration
	workers   int
	log       *slog.Logger
	now       func() time.Time
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
		since: o.ReconcileDeliveriesSince, reconcile: o.ReconcileEvery, retry: o.RetryDelay, workers: o.Workers,
		log: o.Logger, now: o.Now}
	if b.reconcile == 0 {
		b.reconcile = 15 * time.Minute
	}
	if b.retry == nil {
		b.retry = jobs.Backoff(time.Second, time.Minute)
	}
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

// Handles reports whether the bot acts on deliveries of an event (and
// action). The intake records every other delivery as a no-op: its id is
// kept, its payload is not, and no job runs.
func Handles(event, action string) bool {
	switch event {
	case "issues", "workflow_dispatch", "repository_dispatch", "push", "pull_request":
		return true
	case "issue_comment":
		return action == "created"
	}
	return false
}

// QueueWork is the queue of the bot's request and reconcile jobs.
const QueueWork = "rdsbot_work"

// Register adds the bot's work to the job registry: webhook deliveries,
// request jobs (coalesced per request issue) and the periodic reconcile.
func (b *Bot) Register(reg *jobs.Registry) {
	reg.HandleDeliveries(b.HandleDelivery)
	reg.Queue(QueueWork, b.workers)
	jobs.AddWorker(reg, &requestWorker{b: b})
	jobs.AddWorker(reg, &reconcileWorker{b: b})
	if b.reconcile > 0 {
		reg.Periodic(b.reconcile, func() river.JobArgs { return ReconcileArgs{} })
	}
}

// RequestArgs are the arguments of the job that works on one request (see
// HandleRequest). Jobs coalesce per Repo and Key: while one waits or runs,
// another enqueue only makes it run (again) after it; the latest Reason
// goes with the follow-up.
type RequestArgs struct {
	Repo   string `json:"repo"`
	Key    string `json:"key"`
	Reason string `json:"reason,omitempty"`
}

// Kind implements river.JobArgs.
func (RequestArgs) Kind() string { return "rdsbot_request" }

// CoalesceKey implements jobs.Coalesced.
func (a RequestArgs) CoalesceKey() string { return a.Repo + "#" + a.Key }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RequestArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueWork} }

type requestWorker struct {
	river.WorkerDefaults[RequestArgs]
	b *Bot
}

func (w *requestWorker) Work(ctx context.Context, job *river.Job[RequestArgs]) error {
	return w.b.HandleRequest(ctx, job.Args)
}

func (w *requestWorker) NextRetry(job *river.Job[RequestArgs]) time.Time {
	return time.Now().Add(w.b.retry(job.Attempt))
}

// Discarded tells the requester that the bot gave up on the request for
// now (the error itself goes to the logs: it may quote user text).
func (w *requestWorker) Discarded(ctx context.Context, job *river.Job[RequestArgs], _ error) error {
	n, err := parseKey(job.Args.Key)
	if err != nil {
		return nil
	}
	c, err := w.b.client(ctx, nil, job.Args.Repo)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("rdsbot could not finish its work on this request after %d attempts; the operators have it in their logs and metrics (job %d). "+
		"It tries again on the next change to this issue or at the next reconcile; comment `/rds retry` to try now.", job.Attempt, job.ID)
	_, _, err = c.UpsertComment(ctx, job.Args.Repo, n, "rdsbot:gave-up", body)
	return err
}

// ReconcileArgs are the arguments of the periodic reconcile: one at a time;
// a period that comes while one waits or runs is skipped.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "rdsbot_reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts. The next period tries
// again anyway, so a failing reconcile is tried only a few times.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWork, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	b *Bot
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	return w.b.Reconcile(ctx)
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
