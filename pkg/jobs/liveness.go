package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Crash recovery.
//
// River's rescuer (run by the leader) hands a running job back to the queue
// once its worker's Timeout has passed since the attempt began. That is right
// for a job that overran, but a job whose process died would wait for its
// whole timeout, which for some kinds is hours. So every worker is wrapped
// (worker.Timeout) to answer "overrun" at once for a job whose attempt
// belongs to a process that is gone:
//
//   - SQLite: every process but this one. The lock file lets one process at
//     a time open the store, so an attempt of another River client id was
//     made by a process that has exited.
//   - Postgres: a process that has not renewed its lease in rdsbot_client
//     for Config.RecoverAfter. Each process renews it every RecoverAfter/4
//     while it runs and deletes it when it stops.
//
// Nothing is written into River's tables but by River.

// orphaned reports whether job's current attempt belongs to a process that
// is gone. Its own jobs are never orphaned; a failure to tell counts as
// alive (the job is then rescued only after its timeout).
func (q *Queue) orphaned(job *rivertype.JobRow) bool {
	if job.State != rivertype.JobStateRunning || len(job.AttemptedBy) == 0 {
		return false
	}
	owner := job.AttemptedBy[len(job.AttemptedBy)-1]
	if owner == q.id {
		return false
	}
	return !q.alive.check(owner, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		alive, err := q.be.alive(ctx, owner)
		if err != nil {
			q.log.Warn("jobs: cannot tell whether a process is alive; leaving its jobs alone", "client", owner, "error", err.Error())
			return true
		}
		return alive
	})
}

// aliveCache remembers answers for a second: the rescuer asks about every
// running job of a process in one pass.
type aliveCache struct {
	mu sync.Mutex
	m  map[string]aliveAnswer
}

type aliveAnswer struct {
	alive bool
	at    time.Time
}

func (c *aliveCache) check(client string, ask func() bool) bool {
	c.mu.Lock()
	if a, ok := c.m[client]; ok && time.Since(a.at) < time.Second {
		c.mu.Unlock()
		return a.alive
	}
	c.mu.Unlock()
	alive := ask()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 1000 {
		c.m = map[string]aliveAnswer{}
	}
	c.m[client] = aliveAnswer{alive: alive, at: time.Now()}
	return alive
}
