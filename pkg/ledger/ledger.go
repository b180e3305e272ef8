// Package ledger keeps the facts rdsbot recorded itself and trusts because no
// one else can write them: the commits the App made, where a dispatched
// request came from, which request holds an environment's database name,
// which pull request the App opened for which request, the request text the
// requester last approved by editing it, and small counters (redeliveries
// asked for, notices already given).
//
// Issue and pull request bodies, branch contents and commit authors can be
// changed by anyone with write access to the repository; the ledger cannot.
// It lives beside the job store: a SQLite file next to the job file, or
// tables in the same Postgres database.
//
// Every write is idempotent (a replayed job writes the same row again) and
// every claim is decided by the database in one statement, so two replicas,
// or five requests for one name at once, agree on a single winner.
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Config names the store: exactly one of SQLitePath and DatabaseURL.
type Config struct {
	SQLitePath  string
	DatabaseURL string
}

// PathFor is the ledger file kept beside a SQLite job store.
func PathFor(jobStore string) string {
	return strings.TrimSuffix(jobStore, ".db") + ".ledger.db"
}

// Ledger is the store. It is safe for concurrent use.
type Ledger struct {
	db       *sql.DB
	postgres bool
	now      func() time.Time
}

// Open opens (creating and migrating) the ledger.
func Open(ctx context.Context, cfg Config) (*Ledger, error) {
	var (
		db  *sql.DB
		err error
		l   = &Ledger{now: time.Now}
	)
	switch {
	case cfg.SQLitePath != "" && cfg.DatabaseURL != "":
		return nil, errors.New("ledger: set SQLitePath or DatabaseURL, not both")
	case cfg.SQLitePath != "":
		db, err = sql.Open("sqlite", "file:"+cfg.SQLitePath+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
		if err == nil {
			db.SetMaxOpenConns(1) // one writer; the ledger is small and off the intake path
		}
	case cfg.DatabaseURL != "":
		db, err = sql.Open("pgx", cfg.DatabaseURL)
		if err == nil {
			db.SetMaxOpenConns(8)
		}
		l.postgres = true
	default:
		return nil, errors.New("ledger: SQLitePath or DatabaseURL is required")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: open: %w", err)
	}
	l.db = db
	if err := l.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return l, nil
}

// Close releases the database.
func (l *Ledger) Close() error { return l.db.Close() }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS rdsbot_commit (
		repo TEXT NOT NULL, sha TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, sha))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_origin (
		repo TEXT NOT NULL, issue BIGINT NOT NULL, source TEXT NOT NULL, delivery TEXT NOT NULL,
		requester TEXT NOT NULL, sender TEXT NOT NULL, fingerprint TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, issue))`,
	`CREATE INDEX IF NOT EXISTS rdsbot_origin_fingerprint ON rdsbot_origin (repo, fingerprint)`,
	`CREATE TABLE IF NOT EXISTS rdsbot_dispatch (
		repo TEXT NOT NULL, delivery TEXT NOT NULL, fingerprint TEXT NOT NULL, issue BIGINT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, delivery))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_opening (
		repo TEXT NOT NULL, fingerprint TEXT NOT NULL, delivery TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, fingerprint))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_claim (
		repo TEXT NOT NULL, env TEXT NOT NULL, name TEXT NOT NULL, issue BIGINT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env, name))`,
	`CREATE INDEX IF NOT EXISTS rdsbot_claim_issue ON rdsbot_claim (repo, issue)`,
	`CREATE TABLE IF NOT EXISTS rdsbot_pull (
		repo TEXT NOT NULL, pull BIGINT NOT NULL, issue BIGINT NOT NULL, branch TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, pull))`,
	`CREATE INDEX IF NOT EXISTS rdsbot_pull_issue ON rdsbot_pull (repo, issue)`,
	`CREATE TABLE IF NOT EXISTS rdsbot_text (
		repo TEXT NOT NULL, issue BIGINT NOT NULL, body TEXT NOT NULL, editor TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, issue))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_counter (
		scope TEXT NOT NULL, key TEXT NOT NULL, n BIGINT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (scope, key))`,
}

func (l *Ledger) migrate(ctx context.Context) error {
	for _, stmt := range schema {
		if _, err := l.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("ledger: migrate: %w", err)
		}
	}
	return nil
}

// q rewrites "?" placeholders for Postgres ($1, $2, ...).
func (l *Ledger) q(query string) string {
	if !l.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (l *Ledger) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := l.db.ExecContext(ctx, l.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", op, err)
	}
	return res, nil
}

func (l *Ledger) stamp() int64 { return l.now().Unix() }

// inserted runs an INSERT ... ON CONFLICT DO NOTHING and reports whether it
// added the row (false: one was there already).
func (l *Ledger) inserted(ctx context.Context, op, query string, args ...any) (bool, error) {
	res, err := l.exec(ctx, op, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("ledger: %s: %w", op, err)
	}
	return n == 1, nil
}

// column runs a query of one column and returns its values in order.
func column[T any](ctx context.Context, l *Ledger, op, query string, args ...any) ([]T, error) {
	rows, err := l.db.QueryContext(ctx, l.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("ledger: %s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: %s: %w", op, err)
	}
	return out, nil
}

// --- Commits -----------------------------------------------------------------

// RecordCommit records that the App wrote commit sha in repo. forge calls it
// after creating the commit object and before moving any ref to it, so a
// commit of the App on a branch is always recorded.
func (l *Ledger) RecordCommit(ctx context.Context, repo, sha string) error {
	_, err := l.exec(ctx, "record commit", `INSERT INTO rdsbot_commit (repo, sha, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, strings.ToLower(sha), l.stamp())
	return err
}

// OwnCommit reports whether the App wrote commit sha.
func (l *Ledger) OwnCommit(ctx context.Context, repo, sha string) (bool, error) {
	var one int
	err := l.db.QueryRowContext(ctx, l.q(`SELECT 1 FROM rdsbot_commit WHERE repo = ? AND sha = ?`), repo, strings.ToLower(sha)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("ledger: own commit: %w", err)
	}
	return true, nil
}

// --- Origins of dispatched requests -------------------------------------------

// Origin is where a request the App opened an issue for came from.
type Origin struct {
	Repo      string
	Issue     int
	Source    string // workflow_dispatch, repository_dispatch, cli
	Delivery  string // the delivery that opened the issue
	Requester string // the dispatch's user input
	Sender    string // the account GitHub says sent the dispatch
	// Fingerprint identifies the request's inputs, so a second submission
	// of the same request joins the first.
	Fingerprint string
	At          time.Time
}

// RecordOrigin records the origin of a request issue the App opened, and
// the delivery that opened it. Recording it again is harmless; an issue's
// origin is never replaced.
func (l *Ledger) RecordOrigin(ctx context.Context, o Origin) error {
	if o.Repo == "" || o.Issue <= 0 || o.Delivery == "" {
		return errors.New("ledger: record origin: Repo, Issue and Delivery are required")
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: record origin: %w", err)
	}
	defer tx.Rollback()
	at := l.stamp()
	if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_origin (repo, issue, source, delivery, requester, sender, fingerprint, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		o.Repo, o.Issue, o.Source, o.Delivery, o.Requester, o.Sender, o.Fingerprint, at); err != nil {
		return fmt.Errorf("ledger: record origin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_dispatch (repo, delivery, fingerprint, issue, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		o.Repo, o.Delivery, o.Fingerprint, o.Issue, at); err != nil {
		return fmt.Errorf("ledger: record origin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, l.q(`DELETE FROM rdsbot_opening WHERE repo = ? AND fingerprint = ? AND delivery = ?`),
		o.Repo, o.Fingerprint, o.Delivery); err != nil {
		return fmt.Errorf("ledger: record origin: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: record origin: %w", err)
	}
	return nil
}

// RecordJoin records that delivery carried a request identical to the one
// of issue, which it joined instead of opening a second issue.
func (l *Ledger) RecordJoin(ctx context.Context, repo, delivery, fingerprint string, issue int) error {
	_, err := l.exec(ctx, "record join", `INSERT INTO rdsbot_dispatch (repo, delivery, fingerprint, issue, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, delivery, fingerprint, issue, l.stamp())
	return err
}

// Origin returns the recorded origin of a request issue.
func (l *Ledger) Origin(ctx context.Context, repo string, issue int) (Origin, bool, error) {
	o := Origin{Repo: repo, Issue: issue}
	var at int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT source, delivery, requester, sender, fingerprint, at FROM rdsbot_origin WHERE repo = ? AND issue = ?`),
		repo, issue).Scan(&o.Source, &o.Delivery, &o.Requester, &o.Sender, &o.Fingerprint, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Origin{}, false, nil
	case err != nil:
		return Origin{}, false, fmt.Errorf("ledger: origin: %w", err)
	}
	o.At = time.Unix(at, 0).UTC()
	return o, true, nil
}

// DeliveryIssue returns the issue a dispatch delivery opened or joined.
func (l *Ledger) DeliveryIssue(ctx context.Context, repo, delivery string) (int, bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, l.q(`SELECT issue FROM rdsbot_dispatch WHERE repo = ? AND delivery = ?`), repo, delivery).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("ledger: delivery issue: %w", err)
	}
	return n, true, nil
}

// IssuesWithFingerprint lists the request issues opened for identical
// inputs, newest first.
func (l *Ledger) IssuesWithFingerprint(ctx context.Context, repo, fingerprint string) ([]int, error) {
	return column[int](ctx, l, "issues with fingerprint", `SELECT issue FROM rdsbot_origin WHERE repo = ? AND fingerprint = ? ORDER BY issue DESC`, repo, fingerprint)
}

// BeginOpening reserves the opening of a request issue for fingerprint to
// delivery. It returns the delivery that holds the reservation: delivery
// itself when it won, or another one that is opening the same request right
// now. A reservation older than stale is taken over (its job died).
func (l *Ledger) BeginOpening(ctx context.Context, repo, fingerprint, delivery string, stale time.Duration) (string, error) {
	now := l.stamp()
	if _, err := l.exec(ctx, "begin opening", `INSERT INTO rdsbot_opening (repo, fingerprint, delivery, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, fingerprint, delivery, now); err != nil {
		return "", err
	}
	if _, err := l.exec(ctx, "begin opening", `UPDATE rdsbot_opening SET delivery = ?, at = ? WHERE repo = ? AND fingerprint = ? AND at < ?`,
		delivery, now, repo, fingerprint, now-int64(stale/time.Second)); err != nil {
		return "", err
	}
	var holder string
	if err := l.db.QueryRowContext(ctx, l.q(`SELECT delivery FROM rdsbot_opening WHERE repo = ? AND fingerprint = ?`), repo, fingerprint).Scan(&holder); err != nil {
		return "", fmt.Errorf("ledger: begin opening: %w", err)
	}
	return holder, nil
}

// EndOpening drops a reservation of delivery (after a failure that opened
// nothing).
func (l *Ledger) EndOpening(ctx context.Context, repo, fingerprint, delivery string) error {
	_, err := l.exec(ctx, "end opening", `DELETE FROM rdsbot_opening WHERE repo = ? AND fingerprint = ? AND delivery = ?`, repo, fingerprint, delivery)
	return err
}

// --- Names ------------------------------------------------------------------

// Claim gives the database name in env to issue unless another request holds
// it. It returns the holder: issue itself when the claim is (or already
// was) issue's.
func (l *Ledger) Claim(ctx context.Context, repo, env, name string, issue int) (int, error) {
	if _, err := l.exec(ctx, "claim", `INSERT INTO rdsbot_claim (repo, env, name, issue, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, env, name, issue, l.stamp()); err != nil {
		return 0, err
	}
	holder, _, err := l.Holder(ctx, repo, env, name)
	return holder, err
}

// Holder returns the request holding a name.
func (l *Ledger) Holder(ctx context.Context, repo, env, name string) (int, bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, l.q(`SELECT issue FROM rdsbot_claim WHERE repo = ? AND env = ? AND name = ?`), repo, env, name).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("ledger: holder: %w", err)
	}
	return n, true, nil
}

// Transfer moves a name from request from to request to, only if from still
// holds it (from has been withdrawn: its issue is closed). It reports
// whether to holds the name afterwards.
func (l *Ledger) Transfer(ctx context.Context, repo, env, name string, from, to int) (bool, error) {
	if _, err := l.exec(ctx, "transfer", `UPDATE rdsbot_claim SET issue = ?, at = ? WHERE repo = ? AND env = ? AND name = ? AND issue = ?`,
		to, l.stamp(), repo, env, name, from); err != nil {
		return false, err
	}
	holder, _, err := l.Holder(ctx, repo, env, name)
	return holder == to, err
}

// Name is an environment and database name.
type Name struct{ Env, Name string }

// Release gives up every name issue holds except keep (a zero Name keeps
// none): a request that changed its name, or ended.
func (l *Ledger) Release(ctx context.Context, repo string, issue int, keep Name) error {
	_, err := l.exec(ctx, "release", `DELETE FROM rdsbot_claim WHERE repo = ? AND issue = ? AND NOT (env = ? AND name = ?)`,
		repo, issue, keep.Env, keep.Name)
	return err
}

// Claims lists the names issue holds.
func (l *Ledger) Claims(ctx context.Context, repo string, issue int) ([]Name, error) {
	rows, err := l.db.QueryContext(ctx, l.q(`SELECT env, name FROM rdsbot_claim WHERE repo = ? AND issue = ? ORDER BY env, name`), repo, issue)
	if err != nil {
		return nil, fmt.Errorf("ledger: claims: %w", err)
	}
	defer rows.Close()
	var out []Name
	for rows.Next() {
		var n Name
		if err := rows.Scan(&n.Env, &n.Name); err != nil {
			return nil, fmt.Errorf("ledger: claims: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// --- Pull requests ------------------------------------------------------------

// RecordPull records that the App opened pull request pull on branch for the
// request issue.
func (l *Ledger) RecordPull(ctx context.Context, repo string, pull, issue int, branch string) error {
	_, err := l.exec(ctx, "record pull", `INSERT INTO rdsbot_pull (repo, pull, issue, branch, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, pull, issue, branch, l.stamp())
	return err
}

// PullIssue returns the request issue of a pull request the App opened, and
// the branch it opened it on.
func (l *Ledger) PullIssue(ctx context.Context, repo string, pull int) (issue int, branch string, ok bool, err error) {
	err = l.db.QueryRowContext(ctx, l.q(`SELECT issue, branch FROM rdsbot_pull WHERE repo = ? AND pull = ?`), repo, pull).Scan(&issue, &branch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, "", false, nil
	case err != nil:
		return 0, "", false, fmt.Errorf("ledger: pull issue: %w", err)
	}
	return issue, branch, true, nil
}

// BranchIssue returns the request whose pull request the App opened most
// recently on branch.
func (l *Ledger) BranchIssue(ctx context.Context, repo, branch string) (int, bool, error) {
	var n int
	err := l.db.QueryRowContext(ctx, l.q(`SELECT issue FROM rdsbot_pull WHERE repo = ? AND branch = ? ORDER BY pull DESC LIMIT 1`), repo, branch).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("ledger: branch issue: %w", err)
	}
	return n, true, nil
}

// Pulls lists the pull requests the App opened for a request, oldest first.
func (l *Ledger) Pulls(ctx context.Context, repo string, issue int) ([]int, error) {
	return column[int](ctx, l, "pulls", `SELECT pull FROM rdsbot_pull WHERE repo = ? AND issue = ? ORDER BY pull`, repo, issue)
}

// --- Accepted request text ----------------------------------------------------

// Text is the request text last accepted for an issue, and who wrote it.
type Text struct {
	Body   string
	Editor string
	At     time.Time
}

// AcceptText records body as the request's text, as written by editor (the
// issue author on opening, or an edit by someone allowed to change it).
func (l *Ledger) AcceptText(ctx context.Context, repo string, issue int, t Text) error {
	at := t.At
	if at.IsZero() {
		at = l.now()
	}
	// An older edit processed late never replaces a newer one.
	const q = `INSERT INTO rdsbot_text (repo, issue, body, editor, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repo, issue) DO UPDATE SET body = excluded.body, editor = excluded.editor, at = excluded.at
		WHERE rdsbot_text.at <= excluded.at`
	_, err := l.exec(ctx, "accept text", q, repo, issue, t.Body, t.Editor, at.Unix())
	return err
}

// AcceptedText returns the request text last accepted for an issue.
func (l *Ledger) AcceptedText(ctx context.Context, repo string, issue int) (Text, bool, error) {
	var t Text
	var at int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT body, editor, at FROM rdsbot_text WHERE repo = ? AND issue = ?`), repo, issue).Scan(&t.Body, &t.Editor, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Text{}, false, nil
	case err != nil:
		return Text{}, false, fmt.Errorf("ledger: accepted text: %w", err)
	}
	t.At = time.Unix(at, 0).UTC()
	return t, true, nil
}

// --- Counters -----------------------------------------------------------------

// Bump adds one to a counter and returns its new value.
func (l *Ledger) Bump(ctx context.Context, scope, key string) (int, error) {
	if _, err := l.exec(ctx, "bump", `INSERT INTO rdsbot_counter (scope, key, n, at) VALUES (?, ?, 1, ?)
		ON CONFLICT (scope, key) DO UPDATE SET n = rdsbot_counter.n + 1, at = excluded.at`, scope, key, l.stamp()); err != nil {
		return 0, err
	}
	return l.Count(ctx, scope, key)
}

// Count reads a counter (0 when never bumped).
func (l *Ledger) Count(ctx context.Context, scope, key string) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, l.q(`SELECT n FROM rdsbot_counter WHERE scope = ? AND key = ?`), scope, key).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("ledger: count: %w", err)
	}
	return n, nil
}

// Once reports true the first time it is called for (scope, key), false
// after: a notice given once.
func (l *Ledger) Once(ctx context.Context, scope, key string) (bool, error) {
	return l.inserted(ctx, "once", `INSERT INTO rdsbot_counter (scope, key, n, at) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING`, scope, key, l.stamp())
}

// Forget removes a notice or counter, so Once fires again.
func (l *Ledger) Forget(ctx context.Context, scope, key string) error {
	_, err := l.exec(ctx, "forget", `DELETE FROM rdsbot_counter WHERE scope = ? AND key = ?`, scope, key)
	return err
}

// Prune forgets counters of scope older than before.
func (l *Ledger) Prune(ctx context.Context, scope string, before time.Time) (int64, error) {
	res, err := l.exec(ctx, "prune", `DELETE FROM rdsbot_counter WHERE scope = ? AND at < ?`, scope, before.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
