package jobs

import (
	"context"
	"fmt"
	"time"
)

// redriveCandidate is an unprocessed delivery from the log.
type redriveCandidate struct {
	ID, Event, Action, Repository string
	ReceivedAt                    time.Time
	Redriven                      int
}

// redrivePage bounds one query, redriveMaxPerRun one run.
const (
	redrivePage      = 500
	redriveMaxPerRun = 20_000
)

// Redrive runs again the deliveries that were accepted (or last redriven)
// more than olderThan ago, were never processed, and have no job that could
// still process them: their job was discarded or cancelled, or is gone. Each
// delivery is redriven at most Config.RedriveMax times; after that it is
// given up: logged as an error, counted (LossObserver) and marked, so that
// it is not looked at again. It returns how many deliveries it redrove. The
// queue runs it every Config.RedriveEvery with Config.RedriveAfter.
func (q *Queue) Redrive(ctx context.Context, olderThan time.Duration) (int, error) {
	if q.state.Load() == queueClosed {
		return 0, ErrClosed
	}
	before := time.Now().Add(-olderThan)
	var (
		after     redriveCandidate
		redriven  int
		abandoned int
		seen      int
	)
	for seen < redriveMaxPerRun {
		cands, err := q.be.redriveCandidates(ctx, before, after, redrivePage)
		if err != nil {
			return redriven, fmt.Errorf("jobs: redrive: %w", err)
		}
		if len(cands) == 0 {
			break
		}
		seen += len(cands)
		after = cands[len(cands)-1]
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.ID
		}
		live, err := q.be.liveDeliveryJobs(ctx, ids)
		if err != nil {
			return redriven, fmt.Errorf("jobs: redrive: %w", err)
		}
		var again []string
		var giveUp []string
		for _, c := range cands {
			switch {
			case live[c.ID]:
			case c.Redriven >= q.cfg.RedriveMax:
				giveUp = append(giveUp, c.ID)
				q.log.Error("jobs: delivery given up: never processed, redriven the most times allowed",
					"delivery", c.ID, "event", c.Event, "action", c.Action, "repository", c.Repository, "redriven", c.Redriven)
			default:
				again = append(again, c.ID)
				q.log.Warn("jobs: redriving a delivery that was never processed", "delivery", c.ID, "event", c.Event, "action", c.Action, "repository", c.Repository, "redriven", c.Redriven)
			}
		}
		if err := q.be.redriven(ctx, again); err != nil {
			return redriven, fmt.Errorf("jobs: redrive: %w", err)
		}
		if err := q.be.abandon(ctx, giveUp); err != nil {
			return redriven, fmt.Errorf("jobs: redrive: %w", err)
		}
		redriven += len(again)
		abandoned += len(giveUp)
		if len(cands) < redrivePage {
			break
		}
	}
	if lo, ok := q.cfg.Observer.(LossObserver); ok && redriven+abandoned > 0 {
		lo.DeliveriesRedriven(redriven, abandoned)
	}
	return redriven, nil
}
