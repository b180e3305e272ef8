// Package jobs is rdsbot's durable work queue, built on River
// (github.com/riverqueue/river): webhook intake, job kinds registered by the
// packages that own them, per-key coalescing and locks, and the upkeep that
// keeps anything from being lost in silence.
//
// # Stores
//
// A Queue stores into one of two backends:
//
//   - SQLite (Config.SQLitePath): the embedded default, one replica, pure Go
//     (modernc.org/sqlite). River's tables live in the named file, the
//     delivery log in a second one beside it (DeliveryLogPath), and a lock
//     file keeps a second process out. WAL journal, synchronous=NORMAL (a
//     commit survives a crash of the process, not necessarily a power cut),
//     BEGIN IMMEDIATE transactions, River's single connection, passive WAL
//     checkpoints on a connection of their own, and prepared statements
//     cached per connection (the driver would parse River's statements on
//     every call).
//   - Postgres (Config.DatabaseURL): for several replicas sharing the work.
//
// Open migrates River's schema and the package's own tables: the delivery
// log (rdsbot_delivery), coalescing rows (rdsbot_coalesce), the reporter's
// cursor (rdsbot_cursor) and, on Postgres, liveness leases (rdsbot_client).
// Nothing in this package writes into River's tables: River does, through
// its client.
//
// # Lifecycle
//
//	q, err := jobs.Open(ctx, cfg)   // accepts deliveries and jobs at once
//	reg := jobs.NewRegistry()
//	bot.Register(reg)               // each owner registers its kinds
//	err = q.Start(ctx, reg)         // works them
//	...
//	q.Stop(ctx)                     // within ctx's deadline
//	q.Close()
//
// A Queue that is never started is an intake (`rdsbot serve --intake-only`):
// it stores deliveries for a replica that works them, or for its next start.
//
// # Kinds
//
// A job kind is a River typed worker: args with Kind() (and InsertOpts() for
// the queue, MaxAttempts and River's uniqueness), and a river.Worker[T] with
// Work, and optionally Timeout (0: Config.JobTimeout; -1: none) and NextRetry
// (Backoff builds a capped exponential one). The owning package adds it with
// AddWorker, declares its queues with Registry.Queue and its periodic jobs
// with Registry.Periodic; nothing here changes for a new kind. A kind that
// must never be retried blindly (an apply, a provisioning) says MaxAttempts:
// 1 and, to run once per environment and commit, River's unique options over
// every state; a failed or interrupted attempt is then reported, not re-run.
//
// AddWorker wraps every worker. The wrapper
//
//   - reports each attempt's kind, Outcome and duration to the Observer, so
//     metrics need no list of kinds (Stats gives depth and age by kind,
//     Kinds the registered ones);
//   - runs args that are Locked under their lock for the whole run, and
//     args that are Coalesced under their key's (see below); a job that
//     finds its lock taken waits Config.LockRetry without using an attempt;
//   - turns an error that implements RetryAfter (forge's rate-limit errors)
//     into a snooze of that length (capped by Config.MaxRetryAfter, at most
//     Config.MaxRetryAfters times per job) that uses no attempt;
//   - answers River's rescuer for the jobs of dead processes (see Crashes).
//
// A worker that implements Discarder is told about its jobs that were given
// up (see Losses).
//
// # Deliveries
//
// Accept (the webhook.Store the HTTP handler uses) returns once the delivery
// is committed to the log, so an acknowledged delivery cannot be lost.
// Concurrent Accepts are group-committed: a writer takes every delivery
// waiting when it becomes free and stores them in one transaction, so under
// load one commit acknowledges many deliveries while a lone delivery never
// waits for a timer. A delivery id already in the log is a duplicate: no
// second job. A no-op (Delivery.NoOp: a ping, or an event the bot does not
// handle) keeps its id and neither its payload nor a job.
//
// The log outlives River's jobs: River deletes completed jobs after a day,
// while a delivery id is remembered for Config.DeliveryRetention (30 days
// by default, never less than GitHub's 3-day redelivery window).
//
// With Postgres, the log rows and the jobs are written in the same
// transaction. With SQLite they are not: a file has one writer at a time, and
// acknowledgements would queue behind River's fetches and completion batches.
// The log has its own file and writer, and a forwarder turns logged deliveries
// into jobs in River's file in batches, marking them forwarded. A crash
// between its two commits forwards a delivery twice; the duplicate job is
// harmless (see below). Deliveries not yet forwarded count as waiting in
// Stats, and are forwarded when the store is next opened.
//
// A delivery job (KindDelivery, its own queue) carries a batch of
// deliveries: those of one intake commit (Postgres), or of one forwarder
// pass, which gathers for 10 ms (SQLite); at most 64. River's costs per job
// (an insert, a fetch, a completion) are then paid per batch, which at a
// thousand deliveries a second halves the CPU a delivery costs. The job runs
// the handler given to Registry.HandleDeliveries for each delivery, with the
// payload from the log, marks those that succeeded processed (dropping their
// payloads; the marks ride the intake's group commit) and gives each one
// that failed a job of its own, which then fares as any job: River's
// retries, RetryAfter snoozes, cancellation, discard. If the process dies
// after a handler succeeded but before River recorded the completion, the
// job runs again, sees the marks and skips those deliveries; so does a
// duplicate job, which with SQLite also waits for an in-process lock on each
// delivery id. Stats counts deliveries for KindDelivery, jobs for the other
// kinds.
//
// # Coalescing
//
// Args that implement Coalesced name a key; Enqueue keeps at most one job per
// kind and key, and an update that arrives while the job runs is not lost:
//
//   - Enqueue bumps the key's counter in rdsbot_coalesce, with the latest
//     args, in the transaction that looks at the key's current job: none or
//     finished, a new job; waiting for a retry or snoozed, River's JobRetry
//     makes it run at once (not while it waits out a RetryAfter); waiting or
//     running, nothing more.
//   - The job reads the counter before its worker runs and, in the
//     transaction that completes it (River's JobCompleteTx), reads it again
//     under a row lock; if it moved, the follow-up job, with the latest args,
//     is inserted there and then. River's open-source edition has no
//     per-key concurrency limit; this is that limit.
//   - The worker holds its key's lock, for the one case the row cannot
//     cover: a job handed to another process by River's rescuer while the
//     first is somehow still running.
//
// A job made to run at once keeps its own args; the latest ones reach the
// follow-up.
//
// # Locks
//
// Lock and TryLock take a named lock, shared by every process on the store:
// a Postgres session advisory lock on a connection of its own (a separate
// pool), or an in-process lock with SQLite (the lock file keeps other
// processes out). The Lease's Context ends, with ErrLockLost, when the lock
// is lost: the holder pings its connection every two seconds and gives up at
// the first failure, while the server, through TCP keepalive settings on that
// session, lets the lock go only after about eleven seconds of silence. So
// even a replica cut off from the database stops its work before anyone else
// can take its lock. A job under a lock that is lost has its context
// cancelled and is retried (or, with one attempt, reported).
//
// # Crashes
//
// River's rescuer (run by the leader) hands a running job back to the queue
// when its worker's Timeout has passed since the attempt began. The wrapper
// answers "passed" at once for an attempt whose process is gone, so that a
// kind with a long timeout does not wait for it:
//
//   - SQLite: any process but this one (the lock file proves it gone). After
//     a restart, leadership passes once the dead leader's term ends (about
//     15 seconds), and its jobs run again.
//   - Postgres: a process that has not renewed its lease in rdsbot_client
//     for Config.RecoverAfter (renewed every quarter of it; deleted on
//     Close).
//
// A rescued job runs again at once without waiting for a backoff, unless
// that was its last attempt: then it is discarded and reported. Handlers
// must be idempotent, as with any at-least-once queue.
//
// # Stopping
//
// Stop stops fetching and lets running jobs finish; shortly before its
// context's deadline it cancels those still running, which go back to the
// queue without using an attempt, and it returns by the deadline. It holds no
// lock a job needs. Deliveries and jobs are still accepted after Stop.
//
// # Losses
//
// Nothing is dropped in silence:
//
//   - A discarded job (failed on its last attempt, or rescued after a crash
//     on it) is found by a periodic job (Config.ReportEvery) that lists
//     discarded jobs after a cursor and inserts one report job per discarded
//     job, unique by its id: counted once (LossObserver.JobDiscarded),
//     logged, and given to the kind's Discarder, retried until it succeeds.
//   - Redrive (every Config.RedriveEvery, and on demand) finds deliveries
//     accepted more than Config.RedriveAfter ago that were never processed
//     and have no job that may still run (discarded, cancelled, or gone) and
//     runs them again, each at most Config.RedriveMax times; then it gives
//     the delivery up: an error log, a count (LossObserver), a mark.
//
// # Metrics
//
// An Observer receives every job attempt's kind, Outcome and duration and
// every intake commit's size and duration; a LossObserver also discards and
// redrives. Stats gives queue depth and the age of the oldest runnable job
// per kind.
package jobs
