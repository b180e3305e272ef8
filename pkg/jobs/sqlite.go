package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"modernc.org/sqlite" // the pure-Go SQLite driver

	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// sqliteDSN configures every writing connection: WAL so readers never block
// the writer; synchronous=NORMAL, which in WAL mode loses nothing when the
// process crashes (only a power loss can lose the last commits); a busy
// timeout as a safety net; BEGIN IMMEDIATE so a transaction takes the write
// lock up front instead of failing on upgrade; and the automatic checkpoint
// raised to a backstop, because checkpoints (the only writes that wait for the
// disk) run on a separate connection, as passive checkpoints that never block
// the writer.
const sqliteDSN = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(20000)&_txlock=immediate"

// sqliteReaderDSN is for connections that only read (and checkpoint).
const sqliteReaderDSN = "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"

const (
	checkpointEvery = 250 * time.Millisecond
	forwardBatch    = 256
)

// DeliveryLogPath is the file that holds the delivery log of the SQLite store
// at sqlitePath: "jobs.db" keeps its log in "jobs.deliveries.db". Back the two
// up together.
func DeliveryLogPath(sqlitePath string) string {
	ext := filepath.Ext(sqlitePath)
	return strings.TrimSuffix(sqlitePath, ext) + ".deliveries" + ext
}

// deliveryLogSchema is the delivery log, one migration per element.
var deliveryLogSchema = []string{
	`CREATE TABLE rdsbot_delivery (
		id              TEXT    NOT NULL PRIMARY KEY,
		event           TEXT    NOT NULL,
		action          TEXT    NOT NULL,
		repository      TEXT    NOT NULL,
		installation_id INTEGER NOT NULL,
		queued          INTEGER NOT NULL, -- 1: it needs a job; 0: a recorded no-op (ping)
		received_at     INTEGER NOT NULL, -- Unix milliseconds
		payload         BLOB,             -- until processed
		processed_at    INTEGER,          -- Unix milliseconds; set when the handler succeeded
		forwarded       INTEGER NOT NULL  -- 1 once its job is in River's database
	);
	CREATE INDEX rdsbot_delivery_received_at ON rdsbot_delivery (received_at);
	CREATE INDEX rdsbot_delivery_unforwarded ON rdsbot_delivery (received_at) WHERE forwarded = 0;`,
}

// requestSchema is the request counters, in River's database so that they
// change in the same transactions as the request jobs.
var requestSchema = []string{
	`CREATE TABLE rdsbot_request (
		repo       TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		requested  INTEGER NOT NULL, -- bumped by every EnqueueRequest
		reason     TEXT    NOT NULL, -- of the latest EnqueueRequest
		updated_at INTEGER NOT NULL, -- Unix milliseconds
		PRIMARY KEY (repo, key)
	) WITHOUT ROWID;`,
}

// sqliteStore keeps River and the delivery log in two SQLite files, so that
// acknowledging a delivery never waits for River. SQLite has one writer per
// file; with one file, a webhook acknowledgement would queue behind River's
// fetches and completion batches on the same lock, which at a thousand
// deliveries a second put its p99 latency in the tens of milliseconds. Here:
//
//   - Accept commits the delivery (with its payload) to the delivery log.
//     That commit is the acknowledgement: the delivery is durable.
//   - A forwarder moves logged deliveries into River's database as jobs, in
//     batches, and marks them forwarded. The two files cannot commit
//     atomically together, so a crash between the two commits forwards a
//     delivery twice. The duplicate job is harmless: delivery jobs take an
//     in-process lock on their delivery id, and whichever runs second finds
//     the delivery marked processed and does nothing.
type sqliteStore struct {
	cfg      Config
	log      *slog.Logger
	lockFile *os.File
	locks    memLocks

	db     *sql.DB // River's database: one connection, as River advises
	client *river.Client[*sql.Tx]
	dbRead *sql.DB // River's database: checkpoints and stats

	logW *sql.DB // delivery log: its one writing connection
	logR *sql.DB // delivery log: readers (WAL readers never block the writer)

	// Prepared once: the driver would otherwise parse them on every call.
	insert    *sql.Stmt // logW: log a delivery
	processed *sql.Stmt // logW: mark processed
	payload   *sql.Stmt // logR: payload and processed mark

	forwardKick chan struct{}
	quit        chan struct{}
	done        chan struct{} // closed when the forwarder and checkpointer have stopped
}

func openSQLite(ctx context.Context, cfg Config, rc *river.Config) (_ *sqliteStore, err error) {
	s := &sqliteStore{cfg: cfg, log: cfg.Logger, forwardKick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	// One process per store: the in-process key locks only work within one
	// process, and it makes crash recovery exact (a job "running" when the
	// lock is taken was orphaned by a crash).
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

	logPath := DeliveryLogPath(cfg.SQLitePath)
	if s.db, err = openSQLiteDB(ctx, cfg.SQLitePath, sqliteDSN, 1); err != nil {
		return nil, err
	}
	if s.logW, err = openSQLiteDB(ctx, logPath, sqliteDSN, 1); err != nil {
		return nil, err
	}
	// Migrate before the readers open: query_only connections cannot create
	// the WAL files of a new database.
	driver := riversqlite.New(s.db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate river schema in %s: %w", cfg.SQLitePath, err)
	}
	if err := migrateSQLite(ctx, s.db, requestSchema); err != nil {
		return nil, fmt.Errorf("jobs: %s: %w", cfg.SQLitePath, err)
	}
	if err := migrateSQLite(ctx, s.logW, deliveryLogSchema); err != nil {
		return nil, fmt.Errorf("jobs: %s: %w", logPath, err)
	}
	if s.dbRead, err = openSQLiteDB(ctx, cfg.SQLitePath, sqliteReaderDSN, 1); err != nil {
		return nil, err
	}
	if s.logR, err = openSQLiteDB(ctx, logPath, sqliteReaderDSN, 4); err != nil {
		return nil, err
	}
	if err := s.recoverOrphans(ctx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.insert, s.logW, `INSERT INTO rdsbot_delivery
			(id, event, action, repository, installation_id, queued, received_at, payload, forwarded)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`},
		{&s.processed, s.logW, `UPDATE rdsbot_delivery SET payload = NULL, processed_at = ? WHERE id = ?`},
		{&s.payload, s.logR, `SELECT payload, processed_at FROM rdsbot_delivery WHERE id = ?`},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			return nil, fmt.Errorf("jobs: prepare: %w", err)
		}
	}
	s.client, err = river.NewClient(driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	// Deliveries logged but not forwarded when the last process stopped get
	// their jobs before Open returns.
	for {
		n, err := s.forwardOnce(ctx)
		if err != nil {
			return nil, fmt.Errorf("jobs: forward logged deliveries: %w", err)
		}
		if n < forwardBatch {
			break
		}
	}
	s.quit, s.done = make(chan struct{}), make(chan struct{})
	go s.background()
	return s, nil
}

func openSQLiteDB(ctx context.Context, path, dsn string, conns int) (*sql.DB, error) {
	connector, err := sqlite.NewConnector(path + dsn)
	if err != nil {
		return nil, fmt.Errorf("jobs: open %s: %w", path, err)
	}
	db := sql.OpenDB(stmtCacheConnector{connector})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("jobs: open %s: %w", path, err)
	}
	return db, nil
}

// migrateSQLite applies the migrations of schema not yet recorded in
// rdsbot_jobs_migration.
func migrateSQLite(ctx context.Context, db *sql.DB, schema []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS rdsbot_jobs_migration (
		version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM rdsbot_jobs_migration`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for v := have + 1; v <= len(schema); v++ {
		if _, err := tx.ExecContext(ctx, schema[v-1]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rdsbot_jobs_migration (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMilli()); err != nil {
			return fmt.Errorf("migrate to version %d: %w", v, err)
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
	tx, err := s.logW.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insert)
	dup := make([]bool, len(ds))
	queued := false
	for i, d := range ds {
		var payload []byte
		if !d.NoOp() {
			payload = d.Payload
		}
		res, err := stmt.ExecContext(ctx, d.ID, d.Event, d.Action, d.Repository, d.InstallationID, !d.NoOp(), d.ReceivedAt.UnixMilli(), payload, d.NoOp())
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		dup[i] = n == 0
		queued = queued || (!dup[i] && !d.NoOp())
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if queued {
		select {
		case s.forwardKick <- struct{}{}:
		default: // a kick is pending already
		}
	}
	return dup, nil
}

// forwardOnce inserts jobs for up to forwardBatch logged deliveries that have
// none yet, then marks them forwarded.
func (s *sqliteStore) forwardOnce(ctx context.Context) (int, error) {
	rows, err := s.logR.QueryContext(ctx, `SELECT id, event, action, repository, installation_id, received_at
		FROM rdsbot_delivery WHERE forwarded = 0 ORDER BY received_at LIMIT ?`, forwardBatch)
	if err != nil {
		return 0, err
	}
	var params []river.InsertManyParams
	var ids []string
	for rows.Next() {
		var a DeliveryArgs
		var received int64
		if err := rows.Scan(&a.ID, &a.Event, &a.Action, &a.Repository, &a.InstallationID, &received); err != nil {
			rows.Close()
			return 0, err
		}
		a.ReceivedAt = time.UnixMilli(received).UTC()
		ids = append(ids, a.ID)
		params = append(params, river.InsertManyParams{Args: a})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := s.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	idList, err := json.Marshal(ids)
	if err != nil {
		return 0, err
	}
	if _, err := s.logW.ExecContext(ctx, `UPDATE rdsbot_delivery SET forwarded = 1 WHERE id IN (SELECT value FROM json_each(?))`, string(idList)); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// background runs the forwarder and the checkpointer until close.
func (s *sqliteStore) background() {
	defer close(s.done)
	checkpoint := time.NewTicker(checkpointEvery)
	defer checkpoint.Stop()
	forward := time.NewTicker(time.Second) // a safety net; kicks do the work
	defer forward.Stop()
	ctx := context.Background()
	for {
		select {
		case <-s.quit:
			return
		case <-checkpoint.C:
			for _, db := range []*sql.DB{s.logR, s.dbRead} {
				if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
					s.log.Warn("jobs: WAL checkpoint failed", "store", s.cfg.SQLitePath, "error", err.Error())
				}
			}
			continue
		case <-s.forwardKick:
		case <-forward.C:
		}
		for {
			n, err := s.forwardOnce(ctx)
			if err != nil {
				s.log.Error("jobs: forwarding deliveries to River failed; will retry", "error", err.Error())
				break
			}
			if n < forwardBatch {
				break
			}
		}
	}
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
	release, ok := s.locks.tryLock("request\x00" + key)
	return release, ok, nil
}

func (s *sqliteStore) lockDelivery(_ context.Context, id string) (func(), bool, error) {
	release, ok := s.locks.tryLock("delivery\x00" + id)
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
	for _, q := range []struct {
		db  *sql.DB
		sql string
	}{
		// Forwarded rows only: a delivery still waiting for its job stays.
		{s.logW, `DELETE FROM rdsbot_delivery WHERE id IN (SELECT id FROM rdsbot_delivery WHERE received_at < ? AND forwarded = 1 LIMIT 5000)`},
		{s.db, `DELETE FROM rdsbot_request WHERE (repo, key) IN (SELECT repo, key FROM rdsbot_request WHERE updated_at < ? LIMIT 5000)`},
	} {
		// Small batches: each holds SQLite's write lock only briefly.
		for {
			res, err := q.db.ExecContext(ctx, q.sql, before.UnixMilli())
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
	rows, err := s.dbRead.QueryContext(ctx, `SELECT kind, state, count(*),
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
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
	// Deliveries not yet forwarded are waiting too.
	var n int64
	var oldest sql.NullInt64
	if err := s.logR.QueryRowContext(ctx, `SELECT count(*), min(received_at) FROM rdsbot_delivery WHERE forwarded = 0`).Scan(&n, &oldest); err != nil {
		return Stats{}, err
	}
	if n > 0 {
		k := st.Kinds[KindDelivery]
		k.Available += n
		k.OldestAvailable = max(k.OldestAvailable, time.Since(time.UnixMilli(oldest.Int64)))
		st.Kinds[KindDelivery] = k
	}
	return st, nil
}

func (s *sqliteStore) start(ctx context.Context) error { return s.client.Start(ctx) }

func (s *sqliteStore) stop(ctx context.Context) error { return s.client.Stop(ctx) }

func (s *sqliteStore) stopAndCancel(ctx context.Context) error { return s.client.StopAndCancel(ctx) }

func (s *sqliteStore) writers() int { return 1 } // one writing connection to the log

func (s *sqliteStore) close() error {
	if s.quit != nil {
		close(s.quit)
		<-s.done
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.insert, s.processed, s.payload} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, db := range []*sql.DB{s.logR, s.logW, s.dbRead, s.db} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if s.lockFile != nil {
		errs = append(errs, s.lockFile.Close()) // releases the flock
	}
	return errors.Join(errs...)
}
