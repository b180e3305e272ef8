package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" database/sql driver

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// sqliteDSN configures every connection: WAL so readers never block the
// writer; synchronous=NORMAL, which in WAL mode loses nothing when the process
// crashes (only a power loss can lose the last commits); a busy timeout as a
// safety net; and BEGIN IMMEDIATE so a transaction takes the write lock up
// front instead of failing on upgrade.
const sqliteDSN = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"

// sqliteSchema is the delivery log and the request counters, one migration per
// element, applied in order and recorded in rdsbot_jobs_migration.
var sqliteSchema = []string{
	`CREATE TABLE rdsbot_delivery (
		id              TEXT    NOT NULL PRIMARY KEY,
		event           TEXT    NOT NULL,
		action          TEXT    NOT NULL,
		repository      TEXT    NOT NULL,
		installation_id INTEGER NOT NULL,
		queued          INTEGER NOT NULL, -- 1: a job was created; 0: a recorded no-op (ping)
		received_at     INTEGER NOT NULL, -- Unix milliseconds
		payload         BLOB,             -- until processed
		processed_at    INTEGER           -- Unix milliseconds; set when the handler succeeded
	);
	CREATE INDEX rdsbot_delivery_received_at ON rdsbot_delivery (received_at);
	CREATE TABLE rdsbot_request (
		repo       TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		requested  INTEGER NOT NULL, -- bumped by every EnqueueRequest
		reason     TEXT    NOT NULL, -- of the latest EnqueueRequest
		updated_at INTEGER NOT NULL, -- Unix milliseconds
		PRIMARY KEY (repo, key)
	) WITHOUT ROWID;`,
}

type sqliteStore struct {
	cfg      Config
	log      *slog.Logger
	db       *sql.DB
	client   *river.Client[*sql.Tx]
	lockFile *os.File
	locks    memLocks
	// Prepared once: the driver would otherwise parse them on every call.
	insert    *sql.Stmt // delivery log insert
	payload   *sql.Stmt // delivery payload and processed mark
	processed *sql.Stmt // mark processed
}

func openSQLite(ctx context.Context, cfg Config, rc *river.Config) (_ *sqliteStore, err error) {
	s := &sqliteStore{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	// One process per store: SQLite serialises writers anyway, the in-process
	// key locks only work within one process, and it makes crash recovery
	// exact (a job "running" when the lock is taken was orphaned by a crash).
	s.lockFile, err = os.OpenFile(cfg.SQLitePath+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", cfg.SQLitePath+".lock", err)
	}
	if err := syscall.Flock(int(s.lockFile.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("jobs: %s is in use by another process (SQLite serves a single replica; use a Postgres DatabaseURL for several)", cfg.SQLitePath)
		}
		return nil, fmt.Errorf("jobs: lock %s: %w", cfg.SQLitePath, err)
	}

	s.db, err = sql.Open("sqlite", cfg.SQLitePath+sqliteDSN)
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", cfg.SQLitePath, err)
	}
	// River's advice for SQLite: a single connection, so its concurrent
	// internal operations queue in the pool instead of failing with
	// SQLITE_BUSY. SQLite has one writer at a time regardless.
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	s.db.SetConnMaxLifetime(0)
	s.db.SetConnMaxIdleTime(0)
	if err := s.db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", cfg.SQLitePath, err)
	}

	driver := riversqlite.New(s.db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate river schema in %s: %w", cfg.SQLitePath, err)
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.recoverOrphans(ctx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insert, `INSERT INTO rdsbot_delivery
			(id, event, action, repository, installation_id, queued, received_at, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`},
		{&s.payload, `SELECT payload, processed_at FROM rdsbot_delivery WHERE id = ?`},
		{&s.processed, `UPDATE rdsbot_delivery SET payload = NULL, processed_at = ? WHERE id = ?`},
	} {
		if *p.stmt, err = s.db.PrepareContext(ctx, p.sql); err != nil {
			return nil, fmt.Errorf("jobs: prepare: %w", err)
		}
	}
	s.client, err = river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return s, nil
}

func (s *sqliteStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS rdsbot_jobs_migration (
		version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM rdsbot_jobs_migration`).Scan(&have); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	for v := have + 1; v <= len(sqliteSchema); v++ {
		if _, err := tx.ExecContext(ctx, sqliteSchema[v-1]); err != nil {
			return fmt.Errorf("jobs: migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rdsbot_jobs_migration (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("jobs: migrate to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// recoverOrphans makes jobs that a crashed process left "running" available
// again, and forgets its leadership so this process need not wait for it to
// expire. Safe because the file lock proves no other process is working them.
func (s *sqliteStore) recoverOrphans(ctx context.Context) error {
	res, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return fmt.Errorf("jobs: recover orphaned jobs: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.Warn("jobs: recovered jobs left running by a previous process", "jobs", n, "store", s.cfg.SQLitePath)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM river_leader`); err != nil {
		return fmt.Errorf("jobs: reset leadership: %w", err)
	}
	return nil
}

func (s *sqliteStore) acceptBatch(ctx context.Context, ds []webhook.Delivery) ([]bool, error) {
	// The driver watches a cancellable context with a goroutine per
	// statement; this transaction is short and bounded by busy_timeout.
	ctx = context.WithoutCancel(ctx)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insert)
	dup := make([]bool, len(ds))
	var params []river.InsertManyParams
	for i, d := range ds {
		var payload []byte
		if !d.NoOp() {
			payload = d.Payload
		}
		res, err := stmt.ExecContext(ctx, d.ID, d.Event, d.Action, d.Repository, d.InstallationID, !d.NoOp(), d.ReceivedAt.UnixMilli(), payload)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		dup[i] = n == 0
		if !dup[i] && !d.NoOp() {
			params = append(params, river.InsertManyParams{Args: deliveryArgs(d)})
		}
	}
	if len(params) > 0 {
		if _, err := s.client.InsertManyFastTx(ctx, tx, params); err != nil {
			return nil, err
		}
	}
	return dup, tx.Commit()
}

func (s *sqliteStore) deliveryPayload(ctx context.Context, id string) ([]byte, bool, error) {
	var payload []byte
	var processed sql.NullInt64
	err := s.payload.QueryRowContext(ctx, id).Scan(&payload, &processed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, errNotLogged
	}
	return payload, processed.Valid, err
}

func (s *sqliteStore) markProcessed(ctx context.Context, id string) error {
	_, err := s.processed.ExecContext(ctx, time.Now().UnixMilli(), id)
	return err
}

func (s *sqliteStore) enqueueRequest(ctx context.Context, r Request) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The counter first: see requestWorker for why the order matters.
	if _, err := tx.ExecContext(ctx, `INSERT INTO rdsbot_request (repo, key, requested, reason, updated_at)
		VALUES (?, ?, 1, ?, ?)
		ON CONFLICT (repo, key) DO UPDATE SET requested = requested + 1, reason = excluded.reason, updated_at = excluded.updated_at`,
		r.Repo, r.Key, r.Reason, time.Now().UnixMilli()); err != nil {
		return err
	}
	if _, err := s.client.InsertTx(ctx, tx, RequestArgs(r), nil); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteStore) tryLock(_ context.Context, key string) (func(), bool, error) {
	release, ok := s.locks.tryLock(key)
	return release, ok, nil
}

func (s *sqliteStore) requested(ctx context.Context, r Request) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT requested FROM rdsbot_request WHERE repo = ? AND key = ?`, r.Repo, r.Key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (s *sqliteStore) finishRequest(ctx context.Context, job *river.Job[RequestArgs], seen int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var now int64
	var reason string
	err = tx.QueryRowContext(ctx, `SELECT requested, reason FROM rdsbot_request WHERE repo = ? AND key = ?`, job.Args.Repo, job.Args.Key).Scan(&now, &reason)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if _, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job); err != nil {
		return err
	}
	if now > seen {
		if _, err := s.client.InsertTx(ctx, tx, RequestArgs{Repo: job.Args.Repo, Key: job.Args.Key, Reason: reason}, nil); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM rdsbot_delivery WHERE id IN (SELECT id FROM rdsbot_delivery WHERE received_at < ? LIMIT 5000)`,
		`DELETE FROM rdsbot_request WHERE (repo, key) IN (SELECT repo, key FROM rdsbot_request WHERE updated_at < ? LIMIT 5000)`,
	} {
		// Small batches: each holds SQLite's write lock only briefly.
		for {
			res, err := s.db.ExecContext(ctx, q, before.UnixMilli())
			if err != nil {
				return total, err
			}
			n, _ := res.RowsAffected()
			total += n
			if n == 0 {
				break
			}
		}
	}
	return total, nil
}

func (s *sqliteStore) stats(ctx context.Context) (Stats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, state, count(*),
		coalesce(CAST((julianday('now') - julianday(min(CASE WHEN scheduled_at <= datetime('now', 'subsec') THEN scheduled_at END))) * 86400000 AS INTEGER), 0)
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
		var n, ageMS int64
		if err := rows.Scan(&kind, &state, &n, &ageMS); err != nil {
			return Stats{}, err
		}
		st.add(kind, state, n, time.Duration(ageMS)*time.Millisecond)
	}
	return st, rows.Err()
}

func (s *sqliteStore) start(ctx context.Context) error { return s.client.Start(ctx) }

func (s *sqliteStore) stop(ctx context.Context) error { return s.client.Stop(ctx) }

func (s *sqliteStore) stopAndCancel(ctx context.Context) error { return s.client.StopAndCancel(ctx) }

func (s *sqliteStore) writers() int { return 1 } // one connection, one writer

func (s *sqliteStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.insert, s.payload, s.processed} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.lockFile != nil {
		errs = append(errs, s.lockFile.Close()) // releases the flock
	}
	return errors.Join(errs...)
}
