package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Rollout records: which checked merges wait to be applied in which
// environment, and what each apply of an environment at a commit did. They
// make an apply happen once per commit whatever is replayed, retried or
// restarted, and let a status comment show a run's link and log excerpt.
var rolloutSchema = []string{
	`CREATE TABLE IF NOT EXISTS rdsbot_rollout_merge (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, pull BIGINT NOT NULL,
		proceed BIGINT NOT NULL, reason TEXT NOT NULL, seq BIGINT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_apply (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL,
		state TEXT NOT NULL, step TEXT NOT NULL, attempts BIGINT NOT NULL,
		reason TEXT NOT NULL, excerpt TEXT NOT NULL, run_url TEXT NOT NULL,
		started BIGINT NOT NULL, finished BIGINT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
	// The workflow run an apply followed (actions), a re-run a retry still
	// owes it, and why terraform did not run (skipped). Kept apart from
	// rdsbot_apply so that older ledgers need no column migration.
	`CREATE TABLE IF NOT EXISTS rdsbot_apply_run (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL,
		run_id BIGINT NOT NULL, attempt BIGINT NOT NULL, rerun BIGINT NOT NULL, skipped TEXT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_audit (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, seq BIGINT NOT NULL, line TEXT NOT NULL,
		PRIMARY KEY (repo, env, sha, seq))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_asker (
		repo TEXT NOT NULL, issue BIGINT NOT NULL, login TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, issue, login))`,
}

func init() { schema = append(schema, rolloutSchema...) }

// Merge is a merge commit that changed an environment, with the verdict of
// the merge-time re-check.
type Merge struct {
	Repo, Env, SHA string
	Pull           int
	Proceed        bool
	Reason         string
	// Seq orders merges of one repository as they were recorded.
	Seq int64
	At  time.Time
}

// RecordMerge records that a checked merge changed env. The first record
// of a commit stays.
func (l *Ledger) RecordMerge(ctx context.Context, m Merge) error {
	if m.Repo == "" || m.Env == "" || m.SHA == "" {
		return errors.New("ledger: record merge: Repo, Env and SHA are required")
	}
	now := l.now()
	_, err := l.exec(ctx, "record merge", `INSERT INTO rdsbot_rollout_merge (repo, env, sha, pull, proceed, reason, seq, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.Repo, m.Env, strings.ToLower(m.SHA), m.Pull, boolInt(m.Proceed), m.Reason, now.UnixNano(), now.Unix())
	return err
}

// Merges returns the recorded merges of env, oldest first.
func (l *Ledger) Merges(ctx context.Context, repo, env string) ([]Merge, error) {
	rows, err := l.db.QueryContext(ctx, l.q(`SELECT sha, pull, proceed, reason, seq, at FROM rdsbot_rollout_merge
		WHERE repo = ? AND env = ? ORDER BY seq`), repo, env)
	if err != nil {
		return nil, fmt.Errorf("ledger: merges: %w", err)
	}
	defer rows.Close()
	var out []Merge
	for rows.Next() {
		m := Merge{Repo: repo, Env: env}
		var p, at int64
		if err := rows.Scan(&m.SHA, &m.Pull, &p, &m.Reason, &m.Seq, &at); err != nil {
			return nil, fmt.Errorf("ledger: merges: %w", err)
		}
		m.Proceed, m.At = p != 0, time.Unix(at, 0).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Apply states.
const (
	ApplyRunning   = "running"
	ApplySucceeded = "succeeded"
	ApplyFailed    = "failed"
	// ApplyRetry: a failed step was asked to run again (/rds retry).
	ApplyRetry = "retry"
)

// Apply steps: where an apply of a commit is, or where it failed.
const (
	StepApply     = "apply"
	StepProvision = "provision"
	StepDone      = "done"
)

// Apply is what rdsbot did for one environment at one commit.
type Apply struct {
	Repo, Env, SHA string
	State          string // ApplyRunning, ApplySucceeded or ApplyFailed
	Step           string // StepApply, StepProvision or StepDone
	Attempts       int
	Reason         string
	Excerpt        string
	RunURL         string
	Started        time.Time
	Finished       time.Time
	// Run and RunAttempt are the workflow run (and its attempt) the apply
	// step followed, when the actions runner ran it (0 otherwise).
	Run        int64
	RunAttempt int
	// Rerun: a retry asked for Run to run again and no outcome of a newer
	// attempt has been recorded since (FinishApply clears it), so a job
	// interrupted between StartApply and the re-run still re-runs.
	Rerun bool
	// Skipped says why terraform did not run for this commit ("" when it
	// ran): its inputs were those of an earlier apply.
	Skipped string
}

// ApplyOf returns the record of env's apply at sha.
func (l *Ledger) ApplyOf(ctx context.Context, repo, env, sha string) (Apply, bool, error) {
	a := Apply{Repo: repo, Env: env, SHA: strings.ToLower(sha)}
	var started, finished, rerun int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT a.state, a.step, a.attempts, a.reason, a.excerpt, a.run_url, a.started, a.finished,
			COALESCE(r.run_id, 0), COALESCE(r.attempt, 0), COALESCE(r.rerun, 0), COALESCE(r.skipped, '')
		FROM rdsbot_apply a LEFT JOIN rdsbot_apply_run r ON r.repo = a.repo AND r.env = a.env AND r.sha = a.sha
		WHERE a.repo = ? AND a.env = ? AND a.sha = ?`), repo, env, a.SHA).
		Scan(&a.State, &a.Step, &a.Attempts, &a.Reason, &a.Excerpt, &a.RunURL, &started, &finished,
			&a.Run, &a.RunAttempt, &rerun, &a.Skipped)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Apply{}, false, nil
	case err != nil:
		return Apply{}, false, fmt.Errorf("ledger: apply: %w", err)
	}
	a.Rerun = rerun != 0
	a.Started = time.Unix(started, 0).UTC()
	if finished > 0 {
		a.Finished = time.Unix(finished, 0).UTC()
	}
	return a, true, nil
}

// StartApply marks env's apply at sha running at step, counting an attempt.
func (l *Ledger) StartApply(ctx context.Context, repo, env, sha, step string) error {
	now := l.stamp()
	_, err := l.exec(ctx, "start apply", `INSERT INTO rdsbot_apply (repo, env, sha, state, step, attempts, reason, excerpt, run_url, started, finished)
		VALUES (?, ?, ?, ?, ?, 1, '', '', '', ?, 0)
		ON CONFLICT (repo, env, sha) DO UPDATE SET state = excluded.state, step = excluded.step,
			attempts = rdsbot_apply.attempts + 1, reason = '', excerpt = '', started = excluded.started, finished = 0`,
		repo, env, strings.ToLower(sha), ApplyRunning, step, now)
	return err
}

// FinishApply records how a step of env's apply at sha ended: state
// ApplySucceeded with step the next one (StepDone when finished), or
// ApplyFailed with the step that failed. It records the workflow run
// followed (a.Run, a.RunAttempt) and why terraform was skipped
// (a.Skipped) when given, and ends a re-run a retry owed: the runner
// reported an outcome since.
func (l *Ledger) FinishApply(ctx context.Context, a Apply) error {
	if a.State != ApplySucceeded && a.State != ApplyFailed && a.State != ApplyRunning {
		return fmt.Errorf("ledger: finish apply: unknown state %q", a.State)
	}
	var finished int64
	if a.State != ApplyRunning {
		finished = l.stamp()
	}
	sha := strings.ToLower(a.SHA)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: finish apply: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, l.q(`UPDATE rdsbot_apply SET state = ?, step = ?, reason = ?, excerpt = ?,
		run_url = CASE WHEN ? = '' THEN run_url ELSE ? END, finished = ?
		WHERE repo = ? AND env = ? AND sha = ?`),
		a.State, a.Step, a.Reason, a.Excerpt, a.RunURL, a.RunURL, finished, a.Repo, a.Env, sha); err != nil {
		return fmt.Errorf("ledger: finish apply: %w", err)
	}
	if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_apply_run (repo, env, sha, run_id, attempt, rerun, skipped)
		VALUES (?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (repo, env, sha) DO UPDATE SET rerun = 0,
			run_id = CASE WHEN excluded.run_id = 0 THEN rdsbot_apply_run.run_id ELSE excluded.run_id END,
			attempt = CASE WHEN excluded.run_id = 0 THEN rdsbot_apply_run.attempt ELSE excluded.attempt END,
			skipped = CASE WHEN excluded.skipped = '' THEN rdsbot_apply_run.skipped ELSE excluded.skipped END`),
		a.Repo, a.Env, sha, a.Run, a.RunAttempt, a.Skipped); err != nil {
		return fmt.Errorf("ledger: finish apply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: finish apply: %w", err)
	}
	return nil
}

// LastApplied returns the newest commit of env whose apply finished every
// step, in the order merges were recorded ("" when none).
func (l *Ledger) LastApplied(ctx context.Context, repo, env string) (string, error) {
	var sha string
	err := l.db.QueryRowContext(ctx, l.q(`SELECT a.sha FROM rdsbot_apply a JOIN rdsbot_rollout_merge m
		ON m.repo = a.repo AND m.env = a.env AND m.sha = a.sha
		WHERE a.repo = ? AND a.env = ? AND a.state = ? AND a.step = ? ORDER BY m.seq DESC LIMIT 1`),
		repo, env, ApplySucceeded, StepDone).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ledger: last applied: %w", err)
	}
	return sha, nil
}

// RetryApply asks for the failed step of env's apply at sha to run again.
// It reports whether there was a failed apply to retry. A failed apply
// step also owes a re-run of its workflow run (Apply.Rerun) until the
// runner reports a newer outcome, whatever happens to the job meanwhile.
func (l *Ledger) RetryApply(ctx context.Context, repo, env, sha string) (bool, error) {
	sha = strings.ToLower(sha)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("ledger: retry apply: %w", err)
	}
	defer tx.Rollback()
	var step string
	err = tx.QueryRowContext(ctx, l.q(`UPDATE rdsbot_apply SET state = ? WHERE repo = ? AND env = ? AND sha = ? AND state = ? RETURNING step`),
		ApplyRetry, repo, env, sha, ApplyFailed).Scan(&step)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: retry apply: %w", err)
	}
	if step == StepApply {
		if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_apply_run (repo, env, sha, run_id, attempt, rerun, skipped)
			VALUES (?, ?, ?, 0, 0, 1, '') ON CONFLICT (repo, env, sha) DO UPDATE SET rerun = 1`), repo, env, sha); err != nil {
			return false, fmt.Errorf("ledger: retry apply: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("ledger: retry apply: %w", err)
	}
	return true, nil
}

// FailedApply returns env's newest failed apply, if any.
func (l *Ledger) FailedApply(ctx context.Context, repo, env string) (Apply, bool, error) {
	var sha string
	err := l.db.QueryRowContext(ctx, l.q(`SELECT a.sha FROM rdsbot_apply a JOIN rdsbot_rollout_merge m
		ON m.repo = a.repo AND m.env = a.env AND m.sha = a.sha
		WHERE a.repo = ? AND a.env = ? AND a.state = ? ORDER BY m.seq DESC LIMIT 1`), repo, env, ApplyFailed).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return Apply{}, false, nil
	}
	if err != nil {
		return Apply{}, false, fmt.Errorf("ledger: failed apply: %w", err)
	}
	return l.ApplyOf(ctx, repo, env, sha)
}

// MergeRecorded reports whether a merge commit was recorded for any
// environment.
func (l *Ledger) MergeRecorded(ctx context.Context, repo, sha string) (bool, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, l.q(`SELECT COUNT(*) FROM rdsbot_rollout_merge WHERE repo = ? AND sha = ?`),
		repo, strings.ToLower(sha)).Scan(&n); err != nil {
		return false, fmt.Errorf("ledger: merge recorded: %w", err)
	}
	return n > 0, nil
}

// AppendAudit keeps audit lines (CSV records) of env's rollout at sha as
// provisioning produces them, so a run that dies before its status commit
// loses none: the next status commit of that rollout writes them all.
func (l *Ledger) AppendAudit(ctx context.Context, repo, env, sha string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: append audit: %w", err)
	}
	defer tx.Rollback()
	now := l.now()
	for i, line := range lines {
		if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_audit (repo, env, sha, seq, line) VALUES (?, ?, ?, ?, ?)`),
			repo, env, strings.ToLower(sha), now.UnixNano()+int64(i), line); err != nil {
			return fmt.Errorf("ledger: append audit: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: append audit: %w", err)
	}
	return nil
}

// AuditLines returns the audit lines kept for env's rollout at sha, in the
// order they came.
func (l *Ledger) AuditLines(ctx context.Context, repo, env, sha string) ([]string, error) {
	return column[string](ctx, l, "audit lines", `SELECT line FROM rdsbot_audit WHERE repo = ? AND env = ? AND sha = ? ORDER BY seq`, repo, env, strings.ToLower(sha))
}

// RecordAsker records that login asked for something on request issue that
// makes them a requester of it too (a decommission), so they may not
// approve it.
func (l *Ledger) RecordAsker(ctx context.Context, repo string, issue int, login string) error {
	_, err := l.exec(ctx, "record asker", `INSERT INTO rdsbot_asker (repo, issue, login, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, issue, strings.ToLower(login), l.stamp())
	return err
}

// Askers returns the logins recorded by RecordAsker for a request issue.
func (l *Ledger) Askers(ctx context.Context, repo string, issue int) ([]string, error) {
	return column[string](ctx, l, "askers", `SELECT login FROM rdsbot_asker WHERE repo = ? AND issue = ? ORDER BY at, login`, repo, issue)
}
