package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Reporting discarded jobs.
//
// A job is discarded by River after a failed last attempt, or by River's
// rescuer when a crash cut its last attempt short: the second never passes
// through a worker. So a periodic job (Config.ReportEvery) lists discarded
// jobs by the time they were finalized, from a cursor kept in rdsbot_cursor,
// and inserts one report job (KindDiscard) per discarded job, unique by its
// id. The insertion that is not a duplicate counts the job (LossObserver) and
// logs it; the report job calls the kind's Discarder, retried if it fails.
// The cursor trails by reportOverlap, because River records a job's final
// state a little after the time it stamps on it; the unique report jobs keep
// the overlap from counting anything twice.

const (
	reportCursor  = "discarded"
	reportOverlap = time.Minute
	reportBatch   = 200
	// reportFirst is how far back a store reports the first time: within
	// River's retention of report jobs, which keeps the uniqueness.
	reportFirst = 23 * time.Hour
)

func discardedParams(after *river.JobListCursor, limit int) *river.JobListParams {
	return river.NewJobListParams().
		States(rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderAsc).
		First(limit).
		After(after)
}

// reportDiscards reports the jobs discarded since the last run.
func (q *Queue) reportDiscards(ctx context.Context) error {
	since, err := q.be.cursor(ctx, reportCursor)
	if err != nil {
		return err
	}
	if since.IsZero() {
		since = time.Now().Add(-reportFirst)
	} else {
		since = since.Add(-reportOverlap)
	}
	after := river.JobListCursorFromJob(&rivertype.JobRow{ID: 0, FinalizedAt: &since, State: rivertype.JobStateDiscarded})
	latest := since
	for {
		rows, next, err := q.be.listDiscarded(ctx, after, reportBatch)
		if err != nil {
			return fmt.Errorf("list discarded jobs: %w", err)
		}
		for _, row := range rows {
			if row.FinalizedAt != nil && row.FinalizedAt.After(latest) {
				latest = *row.FinalizedAt
			}
			if err := q.reportOne(ctx, row); err != nil {
				return err
			}
		}
		if len(rows) < reportBatch {
			break
		}
		after = next
	}
	return q.be.setCursor(ctx, reportCursor, latest)
}

func (q *Queue) reportOne(ctx context.Context, row *rivertype.JobRow) error {
	if row.Kind == KindDiscard {
		// A Discarder that kept failing: logged, not reported again.
		q.log.Error("jobs: a discarded job's report failed on every attempt", "job", row.ID, "error", lastError(row).Error())
		return nil
	}
	res, err := q.be.insert(ctx, discardArgs{JobID: row.ID, OfKind: row.Kind})
	if err != nil {
		return fmt.Errorf("report discarded job %d: %w", row.ID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return nil
	}
	q.log.Error("jobs: job given up", "kind", row.Kind, "job", row.ID, "attempts", row.Attempt, "error", lastError(row).Error())
	if lo, ok := q.cfg.Observer.(LossObserver); ok {
		lo.JobDiscarded(row.Kind)
	}
	return nil
}

// reportDiscard gives one discarded job to its kind's Discarder.
func (q *Queue) reportDiscard(ctx context.Context, id int64) error {
	row, err := q.be.getJob(ctx, id)
	if isNotFound(err) {
		return nil // cleaned up since: River keeps discarded jobs for a week
	}
	if err != nil {
		return err
	}
	info := q.reg.Load().kinds[row.Kind]
	if info == nil || info.discarded == nil {
		return nil
	}
	return info.discarded(ctx, row, lastError(row))
}

// lastError is the error of a job's last attempt.
func lastError(row *rivertype.JobRow) error {
	if len(row.Errors) == 0 {
		return errors.New("no error recorded")
	}
	return errors.New(row.Errors[len(row.Errors)-1].Error)
}
