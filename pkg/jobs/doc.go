// Package jobs is rdsbot's durable work queue, built on River
// (github.com/riverqueue/river).
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
// Open migrates River's schema and the package's own two tables:
//
//   - rdsbot_delivery, the delivery log: one row per webhook delivery id,
//     with its payload until it is processed. It deduplicates deliveries and
//     outlives River's jobs: River deletes completed jobs after a day, while a
//     delivery id is remembered for Config.DeliveryRetention (30 days by
//     default, never less than GitHub's 3-day redelivery window), so
//     deduplication does not depend on River's unique jobs or their retention.
//   - rdsbot_request, a counter per request key (see below).
//
// # Deliveries
//
// Accept (the webhook.Store the HTTP handler uses) returns once the delivery
// is committed to the log, so an acknowledged delivery cannot be lost.
// Concurrent Accepts are group-committed: a writer takes every delivery
// waiting when it becomes free and stores them in one transaction, so under
// load one commit acknowledges many deliveries while a lone delivery never
// waits for a timer. A delivery id already in the log is a duplicate: no
// second job. A ping is logged without a job.
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
// The delivery job runs Handlers.Delivery with the payload from the log, then
// marks the delivery processed and drops the payload. If the process dies
// after the handler succeeded but before River recorded the completion, the
// job runs again, sees the mark and does nothing; so does a duplicate job,
// which with SQLite also waits for an in-process lock on the delivery id.
//
// # Requests
//
// EnqueueRequest asks for the work of one request (Repo, Key). Jobs for one key
// never run at the same time and bursts coalesce, without losing an update that
// arrives while a job runs:
//
//   - Each enqueue bumps the key's counter in rdsbot_request and inserts a
//     River unique job keyed by (Repo, Key) over every unfinished state.
//     River requires "running" among those states, so while a job runs (or
//     waits) a new enqueue inserts nothing, but its counter bump is recorded.
//   - The job reads the counter before calling Handlers.Request and, in the
//     transaction that completes it, reads it again (under a row lock on
//     Postgres); if it moved, the follow-up job is inserted there and then,
//     carrying the latest reason. River's open-source edition has no per-key
//     concurrency limit; this is that limit.
//   - As a second line of defence for a job handed to another worker while the
//     first still runs (River's stuck-job rescuer), the handler runs under a
//     per-key lock: in process for SQLite, a Postgres advisory lock held on a
//     connection of its own otherwise. A job that finds its key locked snoozes
//     for Config.LockRetry without using up an attempt.
//
// # Reconcile
//
// Handlers.Reconcile runs every Config.ReconcileEvery (and when a leader
// starts) as a River periodic job, one run at a time across replicas.
//
// # Failures, crashes and stopping
//
// A handler error fails the attempt; the job is retried with River's backoff
// (attempt⁴ seconds) up to Config.MaxAttempts, or never if the error is
// wrapped with Permanent. Stop stops fetching, waits for running jobs until its
// context ends, then cancels them and they go back to the queue.
//
// Jobs a crashed process was running are recovered without waiting for River's
// rescuer (an hour by default): with SQLite when the store is next opened (the
// lock file proves nobody else runs them); with Postgres by the other replicas
// (or the restarted one), which notice that the crashed replica's session-level
// advisory lock is gone and, after Config.RecoverAfter, make its jobs
// available again. Handlers must be idempotent: a job may run more than once
// after a crash, as with any at-least-once queue.
//
// # Metrics
//
// An Observer receives every job attempt's kind, Outcome and duration and
// every intake commit's size and duration; Stats gives queue depth and the age
// of the oldest runnable job per kind.
package jobs
