package jobs

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
)

// Coalesced is implemented by job args whose jobs coalesce per key: Enqueue
// keeps at most one job per kind and key waiting or running, and a job
// enqueued while one runs is run once more after it, with the latest args.
// Such a job runs under the lock of its key (see Locked).
type Coalesced interface {
	river.JobArgs
	// CoalesceKey names the work, e.g. a repository and an issue. It may not
	// be empty.
	CoalesceKey() string
}

// Locked is implemented by job args whose jobs must hold a lock for their
// whole run, for example an apply that holds its environment's. A job whose
// lock is held elsewhere waits (Config.LockRetry) without using an attempt;
// one whose lock is lost while it runs has its context cancelled and is
// retried. Args that are Coalesced and not Locked lock their coalescing key.
type Locked interface {
	// LockKey is the lock's name, shared by every kind that uses it. An
	// empty key means no lock.
	LockKey() string
}

// Discarder is implemented by a worker that wants to hear about its jobs
// that were given up: discarded after their last attempt, including one cut
// short by a crash. Discarded is called once per discarded job, in a job of
// its own (retried if it fails), usually within Config.ReportEvery. err is
// the last attempt's error.
type Discarder[T river.JobArgs] interface {
	Discarded(ctx context.Context, job *river.Job[T], err error) error
}

// RetryAfter is implemented by errors that know when to try again, such as
// GitHub's rate-limit errors (Retry-After, or the reset time of an exhausted
// budget). A worker error that wraps one snoozes the job for that long,
// capped at Config.MaxRetryAfter, without using an attempt, at most
// Config.MaxRetryAfters times per job. A kind that must never run twice
// should not let such an error through once its side effects have begun.
type RetryAfter interface {
	error
	RetryAfter() time.Duration
}

// Permanent marks a worker error as final: the job is cancelled instead of
// retried. Use it for input that can never succeed (an unknown event shape, a
// request key that does not parse).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return river.JobCancel(err)
}

// Backoff returns a retry delay for a worker's NextRetry: base doubled per
// attempt (1 for the first retry), capped at max, less up to a tenth at
// random so that jobs failing together spread out.
func Backoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		return d - rand.N(d/10+1)
	}
}
