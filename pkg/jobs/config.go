package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// Defaults applied by Open to zero-valued Config fields.
const (
	WorkersDefault           = 10
	MaxAttemptsDefault       = 25
	ReconcileEveryDefault    = 15 * time.Minute
	DeliveryRetentionDefault = 30 * 24 * time.Hour
	JobTimeoutDefault        = 30 * time.Minute
	LockRetryDefault         = 5 * time.Second
	RecoverAfterDefault      = 30 * time.Second

	// DeliveryRetentionMin is GitHub's redelivery window: a delivery id must be
	// remembered at least this long or a redelivery would run twice.
	DeliveryRetentionMin = 72 * time.Hour
)

// Config configures a Queue. Exactly one of SQLitePath and DatabaseURL is set.
type Config struct {
	// SQLitePath is the job store file for a single replica (the embedded
	// default; created if missing), with the delivery log beside it in
	// DeliveryLogPath(SQLitePath) and a lock file, SQLitePath+".lock". One
	// process at a time may open it.
	SQLitePath string
	// DatabaseURL is a postgres:// URL for a store shared by several replicas.
	// pgxpool settings such as pool_max_conns may be given in the URL.
	DatabaseURL string

	// Workers is the number of jobs worked at once per queue (deliveries and
	// requests have a queue each). Default WorkersDefault.
	Workers int
	// MaxAttempts is how often a failing job is tried before it is discarded.
	// Default MaxAttemptsDefault.
	MaxAttempts int
	// RetryDelay, when set, gives the wait before retry number attempt (1 for
	// the first retry). Default: River's policy, attempt⁴ seconds plus jitter.
	RetryDelay func(attempt int) time.Duration
	// JobTimeout cancels a job's context after this long. Default
	// JobTimeoutDefault.
	JobTimeout time.Duration
	// ReconcileEvery is the period of the reconcile job (Handlers.Reconcile).
	// Default ReconcileEveryDefault; negative disables it. River runs periodic
	// jobs no more often than once a second.
	ReconcileEvery time.Duration
	// DeliveryRetention is how long delivery ids are remembered for
	// deduplication. Default DeliveryRetentionDefault, at least
	// DeliveryRetentionMin.
	DeliveryRetention time.Duration
	// LockRetry is how long a request job waits before trying again when
	// another job holds its key. Default LockRetryDefault.
	LockRetry time.Duration
	// RecoverAfter (Postgres only) is how long a replica must have been gone
	// before the jobs it was running are handed to the others. Default
	// RecoverAfterDefault. With SQLite, jobs a crashed process was running are
	// recovered as soon as the store is opened again.
	RecoverAfter time.Duration

	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told about every finished job and intake commit.
	Observer Observer
}

// Handlers are the caller's functions that do the work. They are given to
// Start, so they may use the Queue (for example to EnqueueRequest). A handler
// error fails the attempt and the job is retried; wrap it with Permanent to
// give up at once.
type Handlers struct {
	// Delivery processes one webhook delivery. Required.
	Delivery func(ctx context.Context, d webhook.Delivery) error
	// Request does the work for one request. Calls for the same Repo and Key
	// never overlap, and a request enqueued while one runs is run again after
	// it. Required.
	Request func(ctx context.Context, r Request) error
	// Reconcile repairs what lost webhooks left behind; run every
	// Config.ReconcileEvery, one run at a time across all replicas. Required
	// unless Config.ReconcileEvery is negative.
	Reconcile func(ctx context.Context) error
}

// Request names work for one request: Repo is the repository's full name, Key
// identifies the request within it (for example "prod/orders"), Reason says
// why it was enqueued (for logs).
type Request struct {
	Repo   string
	Key    string
	Reason string
}

// Outcome is how one job attempt ended.
type Outcome string

// Job outcomes reported to an Observer.
const (
	OutcomeCompleted Outcome = "completed" // handler succeeded
	OutcomeRetry     Outcome = "retry"     // handler failed; the job will be tried again
	OutcomeDiscarded Outcome = "discarded" // handler failed on the last attempt
	OutcomeCancelled Outcome = "cancelled" // handler returned Permanent: not retried
	OutcomeSnoozed   Outcome = "snoozed"   // its request key (or delivery id) was locked by another job; tried again after LockRetry
)

// Observer receives metrics. Implementations must be safe for concurrent use
// and fast: they are called on the job and intake paths.
type Observer interface {
	// JobDone is called after every job attempt with its kind (Kind*
	// constants), outcome and duration.
	JobDone(kind string, outcome Outcome, elapsed time.Duration)
	// IntakeCommitted is called after each intake transaction with the number
	// of deliveries it stored and how long it took.
	IntakeCommitted(deliveries int, elapsed time.Duration)
}

// validate checks c and returns it with defaults applied. All problems are
// reported at once.
func (c Config) validate() (Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("jobs: Config.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.SQLitePath == "" && c.DatabaseURL == "":
		bad("SQLitePath", "set SQLitePath (a file, single replica) or DatabaseURL (Postgres, several replicas)")
	case c.SQLitePath != "" && c.DatabaseURL != "":
		bad("DatabaseURL", "set either SQLitePath or DatabaseURL, not both")
	}
	if strings.ContainsAny(c.SQLitePath, "?#") {
		bad("SQLitePath", "%q may not contain '?' or '#'", c.SQLitePath)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("DatabaseURL", "must be a postgres:// URL")
	}
	nonNegative := func(field string, v int) {
		if v < 0 {
			bad(field, "%d is negative", v)
		}
	}
	nonNegative("Workers", c.Workers)
	nonNegative("MaxAttempts", c.MaxAttempts)
	for field, d := range map[string]time.Duration{"JobTimeout": c.JobTimeout, "LockRetry": c.LockRetry, "RecoverAfter": c.RecoverAfter, "DeliveryRetention": c.DeliveryRetention} {
		if d < 0 {
			bad(field, "%s is negative", d)
		}
	}
	if c.DeliveryRetention > 0 && c.DeliveryRetention < DeliveryRetentionMin {
		bad("DeliveryRetention", "%s is shorter than GitHub's redelivery window (%s); a redelivered delivery would run twice", c.DeliveryRetention, DeliveryRetentionMin)
	}
	if c.ReconcileEvery > 0 && c.ReconcileEvery < time.Second {
		bad("ReconcileEvery", "%s is below River's minimum period of one second", c.ReconcileEvery)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.Workers == 0 {
		c.Workers = WorkersDefault
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = MaxAttemptsDefault
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = JobTimeoutDefault
	}
	if c.ReconcileEvery == 0 {
		c.ReconcileEvery = ReconcileEveryDefault
	}
	if c.DeliveryRetention == 0 {
		c.DeliveryRetention = DeliveryRetentionDefault
	}
	if c.LockRetry == 0 {
		c.LockRetry = LockRetryDefault
	}
	if c.RecoverAfter == 0 {
		c.RecoverAfter = RecoverAfterDefault
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// validate checks that the required handlers are present.
func (h Handlers) validate(reconcile bool) error {
	var errs []error
	if h.Delivery == nil {
		errs = append(errs, errors.New("jobs: Handlers.Delivery: required"))
	}
	if h.Request == nil {
		errs = append(errs, errors.New("jobs: Handlers.Request: required"))
	}
	if h.Reconcile == nil && reconcile {
		errs = append(errs, errors.New("jobs: Handlers.Reconcile: required unless Config.ReconcileEvery is negative"))
	}
	return errors.Join(errs...)
}

// validate reports what is wrong with r, all at once.
func (r Request) validate() error {
	var errs []error
	if r.Repo == "" {
		errs = append(errs, errors.New("jobs: Request.Repo: required"))
	}
	if r.Key == "" {
		errs = append(errs, errors.New("jobs: Request.Key: required"))
	}
	return errors.Join(errs...)
}
