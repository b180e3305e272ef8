package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// Coalescing.
//
// A coalesced kind keeps, per key, a row in rdsbot_coalesce: a counter
// bumped by every Enqueue, the latest args, and the id of the key's current
// job. Jobs for one key never run at the same time and bursts coalesce,
// without losing an update that arrives while a job runs:
//
//   - Enqueue, in one transaction: bump the counter (on Postgres the row
//     lock orders it against a finishing job of the key), then look at the
//     current job. None, or one that is finished (or gone): insert a new
//     job and point the row at it. Waiting for a retry, or snoozed (its lock
//     was busy): make it available at once (River's JobRetry), unless it is
//     waiting out a RetryAfter. Waiting or running: nothing more; the
//     counter bump is the news.
//   - The job reads the counter before its worker runs and, in the
//     transaction that completes it, reads it again under the row lock; if
//     it moved, the follow-up job is inserted there and then, with the
//     latest args, and the row points at it. Otherwise the row points at
//     nothing.
//   - The worker runs under the lock of its key (Locked), which covers the
//     one case the row cannot: a job handed to another process by River's
//     rescuer while the first is somehow still running.

// coalesceAction decides what an Enqueue does about the key's current job.
type coalesceAction int

const (
	coalesceNothing coalesceAction = iota // waiting or running: the counter bump is enough
	coalesceInsert                        // none, finished or gone: a new job
	coalesceRetry                         // waiting for a retry or a snooze: run it now
)

func coalesceDecide(job *rivertype.JobRow, now time.Time) coalesceAction {
	if job == nil {
		return coalesceInsert
	}
	switch job.State {
	case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
		return coalesceInsert
	case rivertype.JobStateRetryable:
		return coalesceRetry
	case rivertype.JobStateScheduled:
		if heldUntil(job).After(now) {
			return coalesceNothing // waiting out a RetryAfter: running it now would only hit the limit again
		}
		return coalesceRetry
	}
	return coalesceNothing
}

// completeTx completes job within tx (a *sql.Tx or a pgx.Tx): River's
// JobCompleteTx, which needs to know the driver.
func completeTx[T river.JobArgs](ctx context.Context, tx any, job *river.Job[T]) error {
	var err error
	switch t := tx.(type) {
	case *sql.Tx:
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, t, job)
	case pgx.Tx:
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, t, job)
	default:
		err = fmt.Errorf("jobs: complete: unexpected transaction type %T", tx)
	}
	return err
}

// isNotFound reports River's "no such job".
func isNotFound(err error) bool { return errors.Is(err, rivertype.ErrNotFound) }
