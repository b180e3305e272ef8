package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// pgSchema is the package's tables, one migration per element, applied in
// order and recorded in rdsbot_jobs_migration.
var pgSchema = []string{
	`CREATE TABLE rdsbot_delivery (
		id              text        PRIMARY KEY,
		event           text        NOT NULL,
		action          text        NOT NULL,
		repository      text        NOT NULL,
		installation_id bigint      NOT NULL,
		queued          boolean     NOT NULL, -- false: a recorded no-op
		received_at     timestamptz NOT NULL,
		payload         bytea,                -- until processed
		processed_at    timestamptz           -- set when the handler succeeded
	);
	CREATE INDEX rdsbot_delivery_received_at ON rdsbot_delivery (received_at);
	CREATE TABLE rdsbot_request (
		repo       text        NOT NULL,
		key        text        NOT NULL,
		requested  bigint      NOT NULL,
		reason     text        NOT NULL,
		updated_at timestamptz NOT NULL,
		PRIMARY KEY (repo, key)
	);`,
	`ALTER TABLE rdsbot_delivery
		ADD COLUMN redriven     integer NOT NULL DEFAULT 0, -- times Redrive ran it again
		ADD COLUMN redriven_at  timestamptz,                -- the last time
		ADD COLUMN abandoned_at timestamptz;                -- given up after RedriveMax
	CREATE INDEX rdsbot_delivery_unprocessed ON rdsbot_delivery (received_at, id)
		WHERE processed_at IS NULL AND queued AND abandoned_at IS NULL;
	DROP TABLE rdsbot_request;
	CREATE TABLE rdsbot_coalesce (
		kind       text        NOT NULL,
		key        text        NOT NULL,
		requested  bigint      NOT NULL, -- bumped by every Enqueue
		args       bytea       NOT NULL, -- of the latest Enqueue, JSON
		job_id     bigint,               -- the key's current job, if any
		updated_at timestamptz NOT NULL,
		PRIMARY KEY (kind, key)
	);
	CREATE TABLE rdsbot_cursor (
		name text        PRIMARY KEY,
		at   timestamptz NOT NULL
	);
	CREATE TABLE rdsbot_client ( -- liveness leases of working processes (see liveness.go)
		id      text        PRIMARY KEY,
		seen_at timestamptz NOT NULL
	);`,
}

// pgIntakeWriters is how many intake transactions run at once against
// Postgres; each one group-commits whatever is waiting.
const pgIntakeWriters = 4

type pgStore struct {
	cfg      Config
	log      *slog.Logger
	id       string
	pool     *pgxpool.Pool // River, the intake and everything short
	lockPool *pgxpool.Pool // connections that hold locks, one per lock
	driver   *riverpgxv5.Driver
	client   atomic.Pointer[river.Client[pgx.Tx]] // insert-only until start, then the working client
	work     *river.Client[pgx.Tx]

	stopLease context.CancelFunc
	leaseDone sync.WaitGroup
}

func openPostgres(ctx context.Context, cfg Config, q *Queue) (_ *pgStore, err error) {
	s := &pgStore{cfg: cfg, log: cfg.Logger, id: q.id}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("jobs: Config.DatabaseURL: %w", err)
	}
	// Workers, the intake writers and River's listener, producers and
	// completer.
	need := int32(cfg.Workers + pgIntakeWriters + 8)
	if pcfg.MaxConns < need {
		pcfg.MaxConns = need
	}
	lcfg := pcfg.Copy()
	lcfg.MinConns = 0
	lcfg.MaxConns = max(lcfg.MaxConns, 64)
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	if s.lockPool, err = pgxpool.NewWithConfig(ctx, lcfg); err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	s.driver = riverpgxv5.New(s.pool)
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	inserter, err := river.NewClient(s.driver, &river.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	s.client.Store(inserter)
	return s, nil
}

// migrate brings River's schema and ours up to date. Replicas may start
// together, so migrations run under an advisory lock.
func (s *pgStore) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	defer conn.Release()
	key := advisoryKey("migrate", "")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("jobs: migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // the session ends with the pool anyway

	migrator, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: s.cfg.Logger})
	if err != nil {
		return fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate river schema: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS rdsbot_jobs_migration (
		version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM rdsbot_jobs_migration`).Scan(&have); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	for v := have + 1; v <= len(pgSchema); v++ {
		if _, err := tx.Exec(ctx, pgSchema[v-1]); err != nil {
			return fmt.Errorf("jobs: migrate to version %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rdsbot_jobs_migration (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("jobs: migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit(ctx)
}

func (s *pgStore) acceptBatch(ctx context.Context, ds []webhook.Delivery, processed []string) ([]bool, error) {
	var (
		ids, events, actions, repos = make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
		insts                       = make([]int64, len(ds))
		queued                      = make([]bool, len(ds))
		received                    = make([]time.Time, len(ds))
		payloads                    = make([][]byte, len(ds))
	)
	for i, d := range ds {
		ids[i], events[i], actions[i], repos[i] = d.ID, d.Event, d.Action, d.Repository
		insts[i], queued[i], received[i] = d.InstallationID, !d.NoOp, d.ReceivedAt
		if !d.NoOp {
			payloads[i] = d.Payload
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	if len(processed) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE rdsbot_delivery SET payload = NULL, processed_at = now() WHERE id = ANY($1)`, processed); err != nil {
			return nil, err
		}
	}
	if len(ds) == 0 {
		return nil, tx.Commit(ctx)
	}
	// One statement for the whole batch. A replica inserting the same id
	// concurrently makes this wait for its commit, then skip the row.
	rows, err := tx.Query(ctx, `INSERT INTO rdsbot_delivery (id, event, action, repository, installation_id, queued, received_at, payload)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::timestamptz[], $8::bytea[])
		ON CONFLICT (id) DO NOTHING
		RETURNING id`, ids, events, actions, repos, insts, queued, received, payloads)
	if err != nil {
		return nil, err
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	fresh := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	dup := make([]bool, len(ds))
	var queue []string
	for i, d := range ds {
		// The first occurrence of an id in the batch is the new one.
		dup[i] = !fresh[d.ID]
		delete(fresh, d.ID)
		if !dup[i] && !d.NoOp {
			queue = append(queue, d.ID)
		}
	}
	if len(queue) > 0 {
		if _, err := s.client.Load().InsertManyFastTx(ctx, tx, deliveryJobs(queue)); err != nil {
			return nil, err
		}
	}
	return dup, tx.Commit(ctx)
}

func (s *pgStore) loggedDeliveries(ctx context.Context, ids []string) (map[string]loggedDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, event, action, repository, installation_id, received_at, payload, processed_at IS NOT NULL
		FROM rdsbot_delivery WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]loggedDelivery, len(ids))
	for rows.Next() {
		var d loggedDelivery
		if err := rows.Scan(&d.ID, &d.Event, &d.Action, &d.Repository, &d.InstallationID, &d.ReceivedAt, &d.Payload, &d.processed); err != nil {
			return nil, err
		}
		out[d.ID] = d
	}
	return out, rows.Err()
}

// lockDelivery needs no lock: a delivery's log row and its job are written
// in the same transaction, the redrive adds one only when none may still
// run, and River's rescuer hands a job on only when its process is gone.
func (s *pgStore) lockDelivery(context.Context, string) (func(), bool, error) {
	return func() {}, true, nil
}

func (s *pgStore) lock(ctx context.Context, key string, wait bool) (*Lease, error) {
	return pgLock(ctx, s.lockPool, key, wait)
}

func (s *pgStore) alive(ctx context.Context, clientID string) (bool, error) {
	var alive bool
	err := s.pool.QueryRow(ctx, `SELECT seen_at > now() - make_interval(secs => $2) FROM rdsbot_client WHERE id = $1`,
		clientID, s.cfg.RecoverAfter.Seconds()).Scan(&alive)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return alive, err
}

func (s *pgStore) insert(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	return s.client.Load().Insert(ctx, args, nil)
}

func (s *pgStore) insertMany(ctx context.Context, params []river.InsertManyParams) error {
	_, err := s.client.Load().InsertMany(ctx, params)
	return err
}

func (s *pgStore) getJob(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return s.client.Load().JobGet(ctx, id)
}

func (s *pgStore) enqueueCoalesced(ctx context.Context, kind, key string, args river.JobArgs, encoded []byte) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The counter first: its row lock orders this transaction against
		// a finishing job of the same key (see coalesce.go).
		var jobID *int64
		if err := tx.QueryRow(ctx, `INSERT INTO rdsbot_coalesce (kind, key, requested, args, updated_at)
			VALUES ($1, $2, 1, $3, now())
			ON CONFLICT (kind, key) DO UPDATE SET requested = rdsbot_coalesce.requested + 1, args = excluded.args, updated_at = excluded.updated_at
			RETURNING job_id`, kind, key, encoded).Scan(&jobID); err != nil {
			return err
		}
		client := s.client.Load()
		var job *rivertype.JobRow
		if jobID != nil {
			var err error
			if job, err = client.JobGetTx(ctx, tx, *jobID); err != nil && !isNotFound(err) {
				return err
			}
		}
		switch coalesceDecide(job, time.Now()) {
		case coalesceInsert:
			res, err := client.InsertTx(ctx, tx, args, nil)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE rdsbot_coalesce SET job_id = $3 WHERE kind = $1 AND key = $2`, kind, key, res.Job.ID)
			return err
		case coalesceRetry:
			_, err := client.JobRetryTx(ctx, tx, job.ID)
			return err
		}
		return nil
	})
}

func (s *pgStore) coalesceSeen(ctx context.Context, kind, key string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT requested FROM rdsbot_coalesce WHERE kind = $1 AND key = $2`, kind, key).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (s *pgStore) finishCoalesced(ctx context.Context, kind, key string, seen int64, complete func(tx any) error, followUp func([]byte) (river.JobArgs, error)) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now int64
		var latest []byte
		err := tx.QueryRow(ctx, `SELECT requested, args FROM rdsbot_coalesce WHERE kind = $1 AND key = $2 FOR UPDATE`, kind, key).Scan(&now, &latest)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := complete(tx); err != nil {
			return err
		}
		var next *int64
		if now > seen {
			args, err := followUp(latest)
			if err != nil {
				return fmt.Errorf("decode the latest args: %w", err)
			}
			res, err := s.client.Load().InsertTx(ctx, tx, args, nil)
			if err != nil {
				return err
			}
			next = &res.Job.ID
		}
		_, err = tx.Exec(ctx, `UPDATE rdsbot_coalesce SET job_id = $3 WHERE kind = $1 AND key = $2`, kind, key, next)
		return err
	})
}

func (s *pgStore) redriveCandidates(ctx context.Context, before time.Time, after redriveCandidate, limit int) ([]redriveCandidate, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, event, action, repository, received_at, redriven
		FROM rdsbot_delivery
		WHERE processed_at IS NULL AND queued AND abandoned_at IS NULL
		  AND (received_at, id) > ($2, $3)
		  AND coalesce(redriven_at, received_at) < $1
		ORDER BY received_at, id LIMIT $4`, before, after.ReceivedAt, after.ID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (redriveCandidate, error) {
		var c redriveCandidate
		err := r.Scan(&c.ID, &c.Event, &c.Action, &c.Repository, &c.ReceivedAt, &c.Redriven)
		return c, err
	})
}

func (s *pgStore) liveDeliveryJobs(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT d.id FROM river_job j,
			LATERAL (SELECT jsonb_array_elements_text(coalesce(j.args->'ids', jsonb_build_array(j.args->>'id')))) AS d(id)
		WHERE j.kind = $1 AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled')
		  AND d.id = ANY($2::text[])`, KindDelivery, ids)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, id := range found {
		live[id] = true
	}
	return live, nil
}

func (s *pgStore) redriven(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := s.client.Load().InsertManyFastTx(ctx, tx, deliveryJobs(ids)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE rdsbot_delivery SET redriven = redriven + 1, redriven_at = now() WHERE id = ANY($1)`, ids)
		return err
	})
}

func (s *pgStore) abandon(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE rdsbot_delivery SET abandoned_at = now(), payload = NULL WHERE id = ANY($1)`, ids)
	return err
}

func (s *pgStore) listDiscarded(ctx context.Context, after *river.JobListCursor, limit int) ([]*rivertype.JobRow, *river.JobListCursor, error) {
	res, err := s.client.Load().JobList(ctx, discardedParams(after, limit))
	if err != nil {
		return nil, nil, err
	}
	return res.Jobs, res.LastCursor, nil
}

func (s *pgStore) cursor(ctx context.Context, name string) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT at FROM rdsbot_cursor WHERE name = $1`, name).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return at, err
}

func (s *pgStore) setCursor(ctx context.Context, name string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO rdsbot_cursor (name, at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, at)
	return err
}

func (s *pgStore) prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM rdsbot_delivery WHERE id IN (SELECT id FROM rdsbot_delivery WHERE received_at < $1 LIMIT 10000)`,
		`DELETE FROM rdsbot_coalesce WHERE (kind, key) IN (SELECT kind, key FROM rdsbot_coalesce WHERE updated_at < $1 AND job_id IS NULL LIMIT 10000)`,
		`DELETE FROM rdsbot_client WHERE seen_at < $1`,
	} {
		for {
			tag, err := s.pool.Exec(ctx, q, before)
			if err != nil {
				return total, err
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() == 0 {
				break
			}
		}
	}
	return total, nil
}

func (s *pgStore) stats(ctx context.Context) (Stats, error) {
	rows, err := s.pool.Query(ctx, `SELECT kind, state::text,
		sum(CASE WHEN kind = $1 THEN coalesce(jsonb_array_length(args->'ids'), 1) ELSE 1 END)::bigint,
		coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE scheduled_at <= now())), 0)::float8
		FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled')
		GROUP BY kind, state`, KindDelivery)
	if err != nil {
		return Stats{}, err
	}
	defer rows.Close()
	st := Stats{Kinds: map[string]KindStats{}}
	for rows.Next() {
		var kind, state string
		var n int64
		var age float64
		if err := rows.Scan(&kind, &state, &n, &age); err != nil {
			return Stats{}, err
		}
		st.add(kind, state, n, time.Duration(age*float64(time.Second)))
	}
	return st, rows.Err()
}

// start renews this process's liveness lease and starts the working client.
func (s *pgStore) start(ctx context.Context, rc *river.Config) error {
	if err := s.renewLease(ctx); err != nil {
		return fmt.Errorf("liveness lease: %w", err)
	}
	work, err := river.NewClient(s.driver, rc)
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	if err := work.Start(ctx); err != nil {
		return err
	}
	s.work = work
	s.client.Store(work)
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopLease = cancel
	s.leaseDone.Add(1)
	go s.keepLease(lctx)
	return nil
}

func (s *pgStore) renewLease(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO rdsbot_client (id, seen_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET seen_at = now()`, s.id)
	return err
}

// keepLease renews the lease every RecoverAfter/4 until the queue closes.
func (s *pgStore) keepLease(ctx context.Context) {
	defer s.leaseDone.Done()
	t := time.NewTicker(s.cfg.RecoverAfter / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.RecoverAfter/4)
		if err := s.renewLease(rctx); err != nil && ctx.Err() == nil {
			s.log.Error("jobs: cannot renew this process's liveness lease; its jobs will be handed to other replicas if this lasts", "client", s.id, "recover_after", s.cfg.RecoverAfter, "error", err.Error())
		}
		cancel()
	}
}

func (s *pgStore) stop(ctx context.Context) error { return s.work.Stop(ctx) }

func (s *pgStore) stopAndCancel(ctx context.Context) error { return s.work.StopAndCancel(ctx) }

func (s *pgStore) writers() int { return pgIntakeWriters }

func (s *pgStore) close() error {
	if s.stopLease != nil {
		s.stopLease()
		s.leaseDone.Wait()
		// Gone: jobs still marked running for this process (it stopped
		// before they returned) are rescued at once.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.pool.Exec(ctx, `DELETE FROM rdsbot_client WHERE id = $1`, s.id)
		cancel()
	}
	if s.lockPool != nil {
		s.lockPool.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return nil
}
