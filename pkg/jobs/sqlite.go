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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
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
	forwardGather   = 10 * time.Millisecond
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
		queued          INTEGER NOT NULL, -- 1: it needs a job; 0: a recorded no-op
		received_at     INTEGER NOT NULL, -- Unix milliseconds
		payload         BLOB,             -- until processed
		processed_at    INTEGER,          -- Unix milliseconds; set when the handler succeeded
		forwarded       INTEGER NOT NULL  -- 1 once its job is in River's database
	);
	CREATE INDEX rdsbot_delivery_received_at ON rdsbot_delivery (received_at);
	CREATE INDEX rdsbot_delivery_unforwarded ON rdsbot_delivery (received_at) WHERE forwarded = 0;`,
	`ALTER TABLE rdsbot_delivery ADD COLUMN redriven INTEGER NOT NULL DEFAULT 0; -- times Redrive ran it again
	ALTER TABLE rdsbot_delivery ADD COLUMN redriven_at INTEGER;                    -- Unix milliseconds, the last time
	ALTER TABLE rdsbot_delivery ADD COLUMN abandoned_at INTEGER;                   -- Unix milliseconds; given up after RedriveMax
	CREATE INDEX rdsbot_delivery_unprocessed ON rdsbot_delivery (received_at, id)
		WHERE processed_at IS NULL AND queued = 1 AND abandoned_at IS NULL;`,
}

// riverSideSchema is what lives in River's database, so that it changes in
// the same transactions as the jobs: coalescing rows (see coalesce.go) and
// the reporter's cursor.
var riverSideSchema = []string{
	`CREATE TABLE rdsbot_request (
		repo       TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		requested  INTEGER NOT NULL,
		reason     TEXT    NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (repo, key)
	) WITHOUT ROWID;`,
	`DROP TABLE rdsbot_request;
	CREATE TABLE rdsbot_coalesce (
		kind       TEXT    NOT NULL,
		key        TEXT    NOT NULL,
		requested  INTEGER NOT NULL, -- bumped by every Enqueue
		args       BLOB    NOT NULL, -- of the latest Enqueue, JSON
		job_id     INTEGER,          -- the key's current job, if any
		updated_at INTEGER NOT NULL, -- Unix milliseconds
		PRIMARY KEY (kind, key)
	) WITHOUT ROWID;
	CREATE TABLE rdsbot_cursor (
		name TEXT    NOT NULL PRIMARY KEY,
		at   INTEGER NOT NULL -- Unix milliseconds
	);`,
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
	driver *riversqlite.Driver
	// client inserts jobs: an insert-only client until the queue starts,
	// the working one afterwards (with SQLite, only an insert by the
	// working client wakes its producers at once).
	client atomic.Pointer[river.Client[*sql.Tx]]
	work   *river.Client[*sql.Tx] // set by start
	dbRead *sql.DB                // River's database: checkpoints and stats

	logW *sql.DB // delivery log: its one writing connection
	logR *sql.DB // delivery log: readers (WAL readers never block the writer)

	// Prepared once: the driver would otherwise parse them on every call.
	insertStmt *sql.Stmt // logW: log a delivery

	forwarding  sync.Mutex // held while a batch moves from the log to River
	forwardKick chan struct{}
	quit        chan struct{}
	done        chan struct{} // closed when the forwarder and checkpointer have stopped
}

func openSQLite(ctx context.Context, cfg Config, q *Queue) (_ *sqliteStore, err error) {
	s := &sqliteStore{cfg: cfg, log: cfg.Logger, forwardKick: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	// One process per store: the in-process locks only work within one
	// process, and it makes crash recovery exact (a job "running" for
	// another River client was orphaned by a crash; see liveness.go).
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
	s.driver = riversqlite.New(s.db)
	migrator, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate river schema in %s: %w", cfg.SQLitePath, err)
	}
	if err := migrateSQLite(ctx, s.db, riverSideSchema); err != nil {
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
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.insertStmt, s.logW, `INSERT INTO rdsbot_delivery
			(id, event, action, repository, installation_id, queued, received_at, payload, forwarded)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			return nil, fmt.Errorf("jobs: prepare: %w", err)
		}
	}
	inserter, err := river.NewClient(s.driver, &river.Config{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	s.client.Store(inserter)
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

func (s *sqliteStore) acceptBatch(ctx context.Context, ds []webhook.Delivery, processed []string) ([]bool, error) {
	// The driver watches a cancellable context with a goroutine per
	// statement; this transaction is short and bounded by busy_timeout.
	ctx = context.WithoutCancel(ctx)
	tx, err := s.logW.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insertStmt)
	dup := make([]bool, len(ds))
	queued := false
	for i, d := range ds {
		var payload []byte
		if !d.NoOp {
			payload = d.Payload
		}
		res, err := stmt.ExecContext(ctx, d.ID, d.Event, d.Action, d.Repository, d.InstallationID, !d.NoOp, d.ReceivedAt.UnixMilli(), payload, d.NoOp)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		dup[i] = n == 0
		queued = queued || (!dup[i] && !d.NoOp)
	}
	if len(processed) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE rdsbot_delivery SET payload = NULL, processed_at = ?
			WHERE id IN (SELECT value FROM json_each(?))`, time.Now().UnixMilli(), jsonStrings(processed)); err != nil {
			return nil, err
		}
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
	rows, err := s.logR.QueryContext(ctx, `SELECT id FROM rdsbot_delivery WHERE forwarded = 0 ORDER BY received_at LIMIT ?`, forwardBatch)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	s.forwarding.Lock() // Stats sees a delivery either in the log or in River
	defer s.forwarding.Unlock()
	if err := s.insertDeliveries(ctx, ids); err != nil {
		return 0, err
	}
	if _, err := s.logW.ExecContext(ctx, `UPDATE rdsbot_delivery SET forwarded = 1 WHERE id IN (SELECT value FROM json_each(?))`, jsonStrings(ids)); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// insertDeliveries inserts the jobs for ids into River's database.
func (s *sqliteStore) insertDeliveries(ctx context.Context, ids []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := s.client.Load().InsertManyFastTx(ctx, tx, deliveryJobs(ids)); err != nil {
		return err
	}
	return tx.Commit()
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
			// Let a burst gather, so that one job carries many deliveries
			// (this delays processing, not acknowledgements).
			select {
			case <-time.After(forwardGather):
			case <-s.quit:
				return
			}
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

func (s *sqliteStore) loggedDeliveries(ctx context.Context, ids []string) (map[string]loggedDelivery, error) {
	rows, err := s.logR.QueryContext(ctx, `SELECT id, event, action, repository, installation_id, received_at, payload, processed_at
		FROM rdsbot_delivery WHERE id IN (SELECT value FROM json_each(?))`, jsonStrings(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]loggedDelivery, len(ids))
	for rows.Next() {
		var d loggedDelivery
		var received int64
		var processed sql.NullInt64
		if err := rows.Scan(&d.ID, &d.Event, &d.Action, &d.Repository, &d.InstallationID, &received, &d.Payload, &processed); err != nil {
			return nil, err
		}
		d.ReceivedAt = time.UnixMilli(received).UTC()
		d.processed = processed.Valid
		out[d.ID] = d
	}
	return out, rows.Err()
}

func (s *sqliteStore) lockDelivery(ctx context.Context, id string) (func(), bool, error) {
	l, err := s.locks.lock(ctx, "delivery\x00"+id, false)
	if errors.Is(err, ErrLocked) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return l.Release, true, nil
}

func (s *sqliteStore) lock(ctx context.Context, key string, wait bool) (*Lease, error) {
	return s.locks.lock(ctx, "lock\x00"+key, wait)
}

// alive: the lock file proves that no other process has the store open.
func (s *sqliteStore) alive(context.Context, string) (bool, error) { return false, nil }

func (s *sqliteStore) insert(ctx context.Context, args river.JobArgs) (*rivertype.JobInsertResult, error) {
	return s.client.Load().Insert(ctx, args, nil)
}

func (s *sqliteStore) insertMany(ctx context.Context, params []river.InsertManyParams) error {
	_, err := s.client.Load().InsertMany(ctx, params)
	return err
}

func (s *sqliteStore) getJob(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	return s.client.Load().JobGet(ctx, id)
}

func (s *sqliteStore) enqueueCoalesced(ctx context.Context, kind, key string, args river.JobArgs, encoded []byte) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var jobID sql.NullInt64
	// The counter first (see coalesce.go). BEGIN IMMEDIATE has taken the
	// file's write lock: this transaction and a finishing job's are ordered.
	if err := tx.QueryRowContext(ctx, `INSERT INTO rdsbot_coalesce (kind, key, requested, args, updated_at)
		VALUES (?, ?, 1, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET requested = requested + 1, args = excluded.args, updated_at = excluded.updated_at
		RETURNING job_id`, kind, key, encoded, time.Now().UnixMilli()).Scan(&jobID); err != nil {
		return err
	}
	client := s.client.Load()
	var job *rivertype.JobRow
	if jobID.Valid {
		job, err = client.JobGetTx(ctx, tx, jobID.Int64)
		if err != nil && !isNotFound(err) {
			return err
		}
	}
	switch coalesceDecide(job, time.Now()) {
	case coalesceInsert:
		res, err := client.InsertTx(ctx, tx, args, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE rdsbot_coalesce SET job_id = ? WHERE kind = ? AND key = ?`, res.Job.ID, kind, key); err != nil {
			return err
		}
	case coalesceRetry:
		if _, err := client.JobRetryTx(ctx, tx, job.ID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) coalesceSeen(ctx context.Context, kind, key string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT requested FROM rdsbot_coalesce WHERE kind = ? AND key = ?`, kind, key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (s *sqliteStore) finishCoalesced(ctx context.Context, kind, key string, seen int64, complete func(tx any) error, followUp func([]byte) (river.JobArgs, error)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var now int64
	var latest []byte
	err = tx.QueryRowContext(ctx, `SELECT requested, args FROM rdsbot_coalesce WHERE kind = ? AND key = ?`, kind, key).Scan(&now, &latest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err := complete(tx); err != nil {
		return err
	}
	var next sql.NullInt64
	if now > seen {
		args, err := followUp(latest)
		if err != nil {
			return fmt.Errorf("decode the latest args: %w", err)
		}
		res, err := s.client.Load().InsertTx(ctx, tx, args, nil)
		if err != nil {
			return err
		}
		next = sql.NullInt64{Int64: res.Job.ID, Valid: true}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rdsbot_coalesce SET job_id = ? WHERE kind = ? AND key = ?`, next, kind, key); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteStore) redriveCandidates(ctx context.Context, before time.Time, after redriveCandidate, limit int) ([]redriveCandidate, error) {
	rows, err := s.logR.QueryContext(ctx, `SELECT id, event, action, repository, received_at, redriven
		FROM rdsbot_delivery
		WHERE processed_at IS NULL AND queued = 1 AND abandoned_at IS NULL AND forwarded = 1
		  AND (received_at, id) > (?, ?)
		  AND coalesce(redriven_at, received_at) < ?
		ORDER BY received_at, id LIMIT ?`, after.ReceivedAt.UnixMilli(), after.ID, before.UnixMilli(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []redriveCandidate
	for rows.Next() {
		var c redriveCandidate
		var received int64
		if err := rows.Scan(&c.ID, &c.Event, &c.Action, &c.Repository, &received, &c.Redriven); err != nil {
			return nil, err
		}
		c.ReceivedAt = time.UnixMilli(received).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *sqliteStore) liveDeliveryJobs(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.dbRead.QueryContext(ctx, `SELECT DISTINCT d.value FROM river_job j,
			json_each(coalesce(json_extract(j.args, '$.ids'), json_array(json_extract(j.args, '$.id')))) d
		WHERE +j.kind = ? AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled') -- '+': the state index, not the kind's
		  AND d.value IN (SELECT value FROM json_each(?))`, KindDelivery, jsonStrings(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	live := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		live[id] = true
	}
	return live, rows.Err()
}

func (s *sqliteStore) redriven(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// A crash between the two commits leaves a job uncounted: the next
	// redrive finds it alive and does nothing.
	if err := s.insertDeliveries(ctx, ids); err != nil {
		return err
	}
	_, err := s.logW.ExecContext(ctx, `UPDATE rdsbot_delivery SET redriven = redriven + 1, redriven_at = ?
		WHERE id IN (SELECT value FROM json_each(?))`, time.Now().UnixMilli(), jsonStrings(ids))
	return err
}

func (s *sqliteStore) abandon(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.logW.ExecContext(ctx, `UPDATE rdsbot_delivery SET abandoned_at = ?, payload = NULL
		WHERE id IN (SELECT value FROM json_each(?))`, time.Now().UnixMilli(), jsonStrings(ids))
	return err
}

func jsonStrings(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

func (s *sqliteStore) listDiscarded(ctx context.Context, after *river.JobListCursor, limit int) ([]*rivertype.JobRow, *river.JobListCursor, error) {
	res, err := s.client.Load().JobList(ctx, discardedParams(after, limit))
	if err != nil {
		return nil, nil, err
	}
	return res.Jobs, res.LastCursor, nil
}

func (s *sqliteStore) cursor(ctx context.Context, name string) (time.Time, error) {
	var ms int64
	err := s.db.QueryRowContext(ctx, `SELECT at FROM rdsbot_cursor WHERE name = ?`, name).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms), err
}

func (s *sqliteStore) setCursor(ctx context.Context, name string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO rdsbot_cursor (name, at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, at.UnixMilli())
	return err
}

func (s *sqliteStore) prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []struct {
		db  *sql.DB
		sql string
	}{
		// Forwarded rows only: a delivery still waiting for its job stays.
		{s.logW, `DELETE FROM rdsbot_delivery WHERE id IN (SELECT id FROM rdsbot_delivery WHERE received_at < ? AND forwarded = 1 LIMIT 5000)`},
		{s.db, `DELETE FROM rdsbot_coalesce WHERE (kind, key) IN (SELECT kind, key FROM rdsbot_coalesce WHERE updated_at < ? AND job_id IS NULL LIMIT 5000)`},
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

// stats counts River's jobs and the deliveries not yet forwarded to River,
// holding off the forwarder so that none is counted twice or missed.
func (s *sqliteStore) stats(ctx context.Context) (Stats, error) {
	s.forwarding.Lock()
	defer s.forwarding.Unlock()
	rows, err := s.dbRead.QueryContext(ctx, `SELECT kind, state,
		sum(CASE WHEN kind = ? THEN coalesce(json_array_length(args, '$.ids'), 1) ELSE 1 END),
		coalesce(CAST((julianday('now') - julianday(min(CASE WHEN scheduled_at <= datetime('now', 'subsec') THEN scheduled_at END))) * 86400000 AS INTEGER), 0)
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
		var n, ageMS int64
		if err := rows.Scan(&kind, &state, &n, &ageMS); err != nil {
			return Stats{}, err
		}
		st.add(kind, state, n, time.Duration(ageMS)*time.Millisecond)
	}
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
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

func (s *sqliteStore) start(ctx context.Context, rc *river.Config) error {
	work, err := river.NewClient(s.driver, rc)
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	if err := work.Start(ctx); err != nil {
		return err
	}
	s.work = work
	s.client.Store(work)
	return nil
}

func (s *sqliteStore) stop(ctx context.Context) error { return s.work.Stop(ctx) }

func (s *sqliteStore) stopAndCancel(ctx context.Context) error { return s.work.StopAndCancel(ctx) }

func (s *sqliteStore) writers() int { return 1 } // one writing connection to the log

func (s *sqliteStore) close() error {
	if s.quit != nil {
		close(s.quit)
		<-s.done
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.insertStmt} {
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
