package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults applied by Open to zero-valued Config fields.
const (
	WorkersDefault           = 10
	MaxAttemptsDefault       = 25
	DeliveryRetentionDefault = 30 * 24 * time.Hour
	JobTimeoutDefault        = 30 * time.Minute
	LockRetryDefault         = 5 * time.Second
	RecoverAfterDefault      = 30 * time.Second
	MaxRetryAfterDefault     = time.Hour
	MaxRetryAftersDefault    = 20
	RedriveEveryDefault      = 5 * time.Minute
	RedriveAfterDefault      = 10 * time.Minute
	RedriveMaxDefault        = 3
	ReportEveryDefault       = time.Minute

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

	// Workers is the number of jobs worked at once by the delivery queue and
	// by every queue registered without a number of its own. Default
	// WorkersDefault.
	Workers int
	// MaxAttempts is how often a failing job is tried before it is discarded,
	// unless its kind's InsertOpts say otherwise. Default MaxAttemptsDefault.
	MaxAttempts int
	// RetryDelay, when set, gives the wait before retry number attempt (1 for
	// the first retry) of kinds whose worker has no NextRetry of its own.
	// Default: River's policy, attempt⁴ seconds plus jitter.
	RetryDelay func(attempt int) time.Duration
	// JobTimeout cancels a job's context after this long, for kinds whose
	// worker's Timeout returns 0. Default JobTimeoutDefault.
	JobTimeout time.Duration
	// DeliveryRetention is how long delivery ids are remembered for
	// deduplication. Default DeliveryRetentionDefault, at least
	// DeliveryRetentionMin.
	DeliveryRetention time.Duration
	// LockRetry is how long a job waits before trying again when another job
	// holds its lock. Default LockRetryDefault.
	LockRetry time.Duration
	// RecoverAfter is how long a process must have been silent before the
	// jobs it was running are handed to River's rescuer (Postgres; with SQLite
	// the lock file proves a previous process gone). Default
	// RecoverAfterDefault.
	RecoverAfter time.Duration
	// MaxRetryAfter caps one wait asked for by an error's RetryAfter.
	// Default MaxRetryAfterDefault.
	MaxRetryAfter time.Duration
	// MaxRetryAfters is how many such waits one job may take; after that a
	// RetryAfter error fails the attempt like any other. Default
	// MaxRetryAftersDefault.
	MaxRetryAfters int
	// RedriveEvery is the period of the redrive (Queue.Redrive), negative to
	// disable it. Default RedriveEveryDefault.
	RedriveEvery time.Duration
	// RedriveAfter is how long an unprocessed delivery must have been without
	// a job that could still process it before the redrive runs it again.
	// Default RedriveAfterDefault.
	RedriveAfter time.Duration
	// RedriveMax is how often one delivery is redriven before it is given up
	// (logged as an error and counted). Default RedriveMaxDefault.
	RedriveMax int
	// ReportEvery is the period of the job that finds discarded jobs and
	// reports them (metrics, Discarder hooks). Default ReportEveryDefault.
	ReportEvery time.Duration

	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer, when set, is told about every finished job and intake commit;
	// if it also implements LossObserver, about work given up.
	Observer Observer
}

// Outcome is how one job attempt ended.
type Outcome string

// Job outcomes reported to an Observer.
const (
	OutcomeCompleted  Outcome = "completed"   // worker succeeded
	OutcomeRetry      Outcome = "retry"       // worker failed; the job will be tried again
	OutcomeDiscarded  Outcome = "discarded"   // worker failed on the last attempt
	OutcomeCancelled  Outcome = "cancelled"   // worker returned Permanent (or river.JobCancel): not retried
	OutcomeSnoozed    Outcome = "snoozed"     // its lock was held by another job, or the worker snoozed; tried again later, no attempt used
	OutcomeRetryAfter Outcome = "retry_after" // the error asked for a wait (RetryAfter); tried again after it, no attempt used
)

// Observer receives metrics. Implementations must be safe for concurrent use
// and fast: they are called on the job and intake paths.
type Observer interface {
	// JobDone is called after every job attempt with its kind, outcome and
	// duration.
	JobDone(kind string, outcome Outcome, elapsed time.Duration)
	// IntakeCommitted is called after each intake transaction with the number
	// of deliveries it stored and how long it took.
	IntakeCommitted(deliveries int, elapsed time.Duration)
}

// LossObserver is an Observer that also hears about work given up on: each
// discarded job once (whichever way it was discarded: failed attempts, or
// rescued from a dead process after its last one), and deliveries that the
// redrive ran again or gave up on.
type LossObserver interface {
	JobDiscarded(kind string)
	DeliveriesRedriven(redriven, abandoned int)
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
	for _, f := range []struct {
		field string
		v     int
	}{{"Workers", c.Workers}, {"MaxAttempts", c.MaxAttempts}, {"MaxRetryAfters", c.MaxRetryAfters}, {"RedriveMax", c.RedriveMax}} {
		if f.v < 0 {
			bad(f.field, "%d is negative", f.v)
		}
	}
	for _, f := range []struct {
		field string
		d     time.Duration
	}{
		{"JobTimeout", c.JobTimeout}, {"LockRetry", c.LockRetry}, {"RecoverAfter", c.RecoverAfter},
		{"DeliveryRetention", c.DeliveryRetention}, {"MaxRetryAfter", c.MaxRetryAfter},
		{"RedriveAfter", c.RedriveAfter}, {"ReportEvery", c.ReportEvery},
	} {
		if f.d < 0 {
			bad(f.field, "%s is negative", f.d)
		}
	}
	if c.DeliveryRetention > 0 && c.DeliveryRetention < DeliveryRetentionMin {
		bad("DeliveryRetention", "%s is shorter than GitHub's redelivery window (%s); a redelivered delivery would run twice", c.DeliveryRetention, DeliveryRetentionMin)
	}
	for _, f := range []struct {
		field string
		d     time.Duration
	}{{"RedriveEvery", c.RedriveEvery}, {"ReportEvery", c.ReportEvery}} {
		if f.d > 0 && f.d < time.Second {
			bad(f.field, "%s is below River's minimum period of one second", f.d)
		}
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.Workers, WorkersDefault)
	defInt(&c.MaxAttempts, MaxAttemptsDefault)
	defInt(&c.MaxRetryAfters, MaxRetryAftersDefault)
	defInt(&c.RedriveMax, RedriveMaxDefault)
	def(&c.JobTimeout, JobTimeoutDefault)
	def(&c.DeliveryRetention, DeliveryRetentionDefault)
	def(&c.LockRetry, LockRetryDefault)
	def(&c.RecoverAfter, RecoverAfterDefault)
	def(&c.MaxRetryAfter, MaxRetryAfterDefault)
	def(&c.RedriveEvery, RedriveEveryDefault)
	def(&c.RedriveAfter, RedriveAfterDefault)
	def(&c.ReportEvery, ReportEveryDefault)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
