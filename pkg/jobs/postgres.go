package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// pgSchema is the delivery log and the request counters, one migration per
// element, applied in order and recorded in rdsbot_jobs_migration.
var pgSchema = []string{
	`CREATE TABLE rdsbot_delivery (
		id              text        PRIMARY KEY,
		event           text        NOT NULL,
		action          text        NOT NULL,
		repository      text        NOT NULL,
		installation_id bigint      NOT NULL,
		queued          boolean     NOT NULL, -- false: a recorded no-op (ping)
		received_at     timestamptz NOT NULL,
		payload         bytea,                -- until processed
		processed_at    timestamptz           -- set when the handler succeeded
	);
	CREATE INDEX rdsbot_delivery_received_at ON rdsbot_delivery (received_at);
	CREATE TABLE rdsbot_request (
		repo       text        NOT NULL,
		key        text        NOT NULL,
		requested  bigint      NOT NULL, -- bumped by every EnqueueRequest
		reason     text        NOT NULL, -- of the latest EnqueueRequest
		updated_at timestamptz NOT NULL,
		PRIMARY KEY (repo, key)
	);`,
}

// pgIntakeWriters is how many intake transactions run at once against
// Postgres; each one group-commits whatever is waiting.
const pgIntakeWriters = 4

type pgStore struct {
	cfg    Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	id     string // River client id: the name of this replica's liveness lock

	live     *pgx.Conn // holds the liveness lock while the queue runs
	liveMu   sync.Mutex
	stopLive context.CancelFunc
	liveDone sync.WaitGroup
}

func openPostgres(ctx context.Context, cfg Config, rc *river.Config) (_ *pgStore, err error) {
	s := &pgStore{cfg: cfg, log: cfg.Logger, id: rc.ID}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("jobs: Config.DatabaseURL: %w", err)
	}
	// Request jobs hold a connection each for their key lock while they
	// need another, briefly, to finish; the pool must never be filled by
	// lock holders alone. On top: the intake writers and River's listener,
	// producers and completer.
	need := int32(cfg.Workers + pgIntakeWriters + 8)
	if pcfg.MaxConns < need {
		pcfg.MaxConns = need
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("jobs: connect: %w", err)
	}
	driver := riverpgxv5.New(s.pool)
	if err := s.migrate(ctx, driver); err != nil {
		return nil, err
	}
	s.client, err = river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return s, nil
}

// migrate brings River's schema and ours up to date. Replicas may start
// together, so migrations run under an advisory lock.
func (s *pgStore) migrate(ctx context.Context, driver *riverpgxv5.Driver) error {
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

	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: s.cfg.Logger})
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

func (s *pgStore) acceptBatch(ctx context.Context, ds []webhook.Delivery) ([]bool, error) {
	var (
		ids, events, actions, repos = make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
		insts                       = make([]int64, len(ds))
		queued                      = make([]bool, len(ds))
		received                    = make([]time.Time, len(ds))
		payloads                    = make([][]byte, len(ds))
	)
	for i, d := range ds {
		ids[i], events[i], actions[i], repos[i] = d.ID, d.Event, d.Action, d.Repository
		insts[i], queued[i], received[i] = d.InstallationID, !d.NoOp(), d.ReceivedAt
		if !d.NoOp() {
			payloads[i] = d.Payload
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
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
	var params []river.InsertManyParams
	for i, d := range ds {
		// The first occurrence of an id in the batch is the new one.
		dup[i] = !fresh[d.ID]
		delete(fresh, d.ID)
		if !dup[i] && !d.NoOp() {
			params = append(params, river.InsertManyParams{Args: deliveryArgs(d)})
		}
	}
	if len(params) > 0 {
		if _, err := s.client.InsertManyFastTx(ctx, tx, params); err != nil {
			return nil, err
		}
	}
	return dup, tx.Commit(ctx)
}

func (s *pgStore) deliveryPayload(ctx context.Context, id string) ([]byte, bool, error) {
	var payload []byte
	var processed bool
	err := s.pool.QueryRow(ctx, `SELECT payload, processed_at IS NOT NULL FROM rdsbot_delivery WHERE id = $1`, id).Scan(&payload, &processed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, errNotLogged
	}
	return payload, processed, err
}

func (s *pgStore) markProcessed(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE rdsbot_delivery SET payload = NULL, processed_at = now() WHERE id = $1`, id)
	return err
}

func (s *pgStore) enqueueRequest(ctx context.Context, r Request) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The counter first: its row lock orders this transaction against a
		// finishing job of the same key (see requestWorker).
		if _, err := tx.Exec(ctx, `INSERT INTO rdsbot_request (repo, key, requested, reason, updated_at)
			VALUES ($1, $2, 1, $3, now())
			ON CONFLICT (repo, key) DO UPDATE SET requested = rdsbot_request.requested + 1, reason = excluded.reason, updated_at = excluded.updated_at`,
			r.Repo, r.Key, r.Reason); err != nil {
			return err
		}
		_, err := s.client.InsertTx(ctx, tx, RequestArgs(r), nil)
		return err
	})
}

func (s *pgStore) tryLock(ctx context.Context, key string) (func(), bool, error) {
	return pgTryLock(ctx, s.pool, "request", key)
}

// lockDelivery needs no lock: a delivery's log row and its one job are
// written in the same transaction, so there is never a second job.
func (s *pgStore) lockDelivery(context.Context, string) (func(), bool, error) {
	return func() {}, true, nil
}

func (s *pgStore) requested(ctx context.Context, r Request) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT requested FROM rdsbot_request WHERE repo = $1 AND key = $2`, r.Repo, r.Key).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (s *pgStore) finishRequest(ctx context.Context, job *river.Job[RequestArgs], seen int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now int64
		var reason string
		err := tx.QueryRow(ctx, `SELECT requested, reason FROM rdsbot_request WHERE repo = $1 AND key = $2 FOR UPDATE`,
			job.Args.Repo, job.Args.Key).Scan(&now, &reason)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return err
		}
		if now > seen {
			_, err = s.client.InsertTx(ctx, tx, RequestArgs{Repo: job.Args.Repo, Key: job.Args.Key, Reason: reason}, nil)
		}
		return err
	})
}

func (s *pgStore) prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM rdsbot_delivery WHERE id IN (SELECT id FROM rdsbot_delivery WHERE received_at < $1 LIMIT 10000)`,
		`DELETE FROM rdsbot_request WHERE (repo, key) IN (SELECT repo, key FROM rdsbot_request WHERE updated_at < $1 LIMIT 10000)`,
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
	rows, err := s.pool.Query(ctx, `SELECT kind, state::text, count(*),
		coalesce(extract(epoch FROM now() - min(scheduled_at) FILTER (WHERE scheduled_at <= now())), 0)::float8
		FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled')
		GROUP BY kind, state`)
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

// start takes this replica's liveness lock, starts River, and starts
// watching for replicas that died with jobs running.
//
// Crash recovery: River's own rescuer gives a running job back only after
// RescueStuckJobsAfter (an hour by default; it must exceed JobTimeout), which
// is right for a job that is merely slow but far too long for one whose
// process is gone. Each replica therefore holds a session advisory lock named
// after its River client id for as long as it runs. The session, and with it
// the lock, ends when the process dies. A job whose last attempt belongs to a
// client whose lock is free, continuously for RecoverAfter, is made available
// again. If the lock was lost to a network partition longer than that while
// the replica still runs, the job can run twice: handlers must be idempotent,
// as they must be for River's rescuer anyway.
func (s *pgStore) start(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("liveness connection: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", advisoryKey("client", s.id)); err != nil {
		_ = conn.Close(ctx)
		return fmt.Errorf("liveness lock: %w", err)
	}
	s.liveMu.Lock()
	s.live = conn
	s.liveMu.Unlock()
	if err := s.client.Start(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopLive = cancel
	s.liveDone.Add(2)
	go s.heartbeat(wctx)
	go s.sweep(wctx)
	return nil
}

// heartbeat keeps the liveness lock: if its connection breaks, it reconnects
// and takes the lock again.
func (s *pgStore) heartbeat(ctx context.Context) {
	defer s.liveDone.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.liveMu.Lock()
		conn := s.live
		s.liveMu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err == nil || ctx.Err() != nil {
			continue
		}
		s.log.Error("jobs: liveness connection lost; reconnecting", "client", s.id, "error", err.Error())
		_ = conn.Close(context.Background())
		nc, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err != nil {
			s.log.Error("jobs: liveness reconnect failed", "error", err.Error())
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = nc.Exec(lctx, "SELECT pg_advisory_lock($1)", advisoryKey("client", s.id))
		cancel()
		if err != nil {
			s.log.Error("jobs: liveness lock failed", "error", err.Error())
			_ = nc.Close(context.Background())
			continue
		}
		s.liveMu.Lock()
		s.live = nc
		s.liveMu.Unlock()
	}
}

// sweep looks for dead replicas' running jobs every so often.
func (s *pgStore) sweep(ctx context.Context) {
	defer s.liveDone.Done()
	every := min(max(s.cfg.RecoverAfter/2, 200*time.Millisecond), 5*time.Second)
	deadSince := map[string]time.Time{}
	for {
		if err := s.sweepOnce(ctx, deadSince); err != nil && ctx.Err() == nil {
			s.log.Warn("jobs: orphan sweep failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (s *pgStore) sweepOnce(ctx context.Context, deadSince map[string]time.Time) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT DISTINCT attempted_by[cardinality(attempted_by)]
		FROM river_job WHERE state = 'running' AND cardinality(attempted_by) > 0`)
	if err != nil {
		return err
	}
	clients, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range clients {
		seen[c] = true
		if c == s.id {
			continue
		}
		key := advisoryKey("client", c)
		var free bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&free); err != nil {
			return err
		}
		if !free {
			delete(deadSince, c)
			continue
		}
		// Holding the dead client's lock: no other sweeper acts on it now.
		since, ok := deadSince[c]
		if !ok {
			deadSince[c] = time.Now()
		} else if time.Since(since) >= s.cfg.RecoverAfter {
			rows, err := conn.Query(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
				WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = $1
				RETURNING id`, c)
			var ids []int64
			if err == nil {
				ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			}
			if err != nil {
				_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key)
				return err
			}
			if len(ids) > 0 {
				s.log.Warn("jobs: recovered jobs of a replica that is gone", "client", c, "jobs", ids)
			}
			delete(deadSince, c)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			return err
		}
	}
	for c := range deadSince {
		if !seen[c] {
			delete(deadSince, c)
		}
	}
	return nil
}

func (s *pgStore) stop(ctx context.Context) error { return s.client.Stop(ctx) }

func (s *pgStore) stopAndCancel(ctx context.Context) error { return s.client.StopAndCancel(ctx) }

func (s *pgStore) writers() int { return pgIntakeWriters }

func (s *pgStore) close() error {
	if s.stopLive != nil {
		s.stopLive()
		s.liveDone.Wait()
	}
	s.liveMu.Lock()
	if s.live != nil {
		_ = s.live.Close(context.Background()) // ends the session: releases the liveness lock
		s.live = nil
	}
	s.liveMu.Unlock()
	if s.pool != nil {
		s.pool.Close()
	}
	return nil
}
