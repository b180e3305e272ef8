package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Guard records: what the rollout's guard needs to tell a reviewed change
// on the base branch from one that was pushed past review. Who pushed a
// commit (the push event's sender, as GitHub signs it, never the commit's
// author line), where checking starts for an environment never applied,
// which commits were found unreviewed, and who released them.
var guardSchema = []string{
	`CREATE TABLE IF NOT EXISTS rdsbot_push (
		repo TEXT NOT NULL, sha TEXT NOT NULL, pusher TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, sha))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_rollout_base (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_unreviewed (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, files TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_release (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, by_login TEXT NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
}

func init() { schema = append(schema, guardSchema...) }

// RecordPush records who pushed commits to a base branch: the push event's
// sender. The first push that brought a commit stays.
func (l *Ledger) RecordPush(ctx context.Context, repo, pusher string, shas []string) error {
	if pusher == "" || len(shas) == 0 {
		return nil
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: record push: %w", err)
	}
	defer tx.Rollback()
	now := l.stamp()
	for _, sha := range shas {
		if sha == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_push (repo, sha, pusher, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			repo, strings.ToLower(sha), strings.ToLower(pusher), now); err != nil {
			return fmt.Errorf("ledger: record push: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: record push: %w", err)
	}
	return nil
}

// Pusher returns who pushed a commit to a base branch, if a push was seen.
func (l *Ledger) Pusher(ctx context.Context, repo, sha string) (string, bool, error) {
	list, err := column[string](ctx, l, "pusher", `SELECT pusher FROM rdsbot_push WHERE repo = ? AND sha = ?`, repo, strings.ToLower(sha))
	if err != nil || len(list) == 0 {
		return "", false, err
	}
	return list[0], true, nil
}

// RecordBaseline records the commit from which the guard checks an
// environment that has never been applied: the base branch as rdsbot first
// saw it move for that environment. The first record stays.
func (l *Ledger) RecordBaseline(ctx context.Context, repo, env, sha string) error {
	if repo == "" || env == "" || sha == "" {
		return errors.New("ledger: record baseline: repo, env and sha are required")
	}
	_, err := l.exec(ctx, "record baseline", `INSERT INTO rdsbot_rollout_base (repo, env, sha, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		repo, env, strings.ToLower(sha), l.stamp())
	return err
}

// Baseline returns the commit recorded by RecordBaseline ("" when none).
func (l *Ledger) Baseline(ctx context.Context, repo, env string) (string, error) {
	list, err := column[string](ctx, l, "baseline", `SELECT sha FROM rdsbot_rollout_base WHERE repo = ? AND env = ?`, repo, env)
	if err != nil || len(list) == 0 {
		return "", err
	}
	return list[0], nil
}

// Unreviewed is a commit on the base branch that changed an environment's
// inputs without a reviewed merge.
type Unreviewed struct {
	Repo, Env, SHA string
	Files          []string
	At             time.Time
}

// RecordUnreviewed records an unreviewed commit of env. It reports whether
// the record is new (so the commit's status is written once).
func (l *Ledger) RecordUnreviewed(ctx context.Context, u Unreviewed) (bool, error) {
	if u.Repo == "" || u.Env == "" || u.SHA == "" {
		return false, errors.New("ledger: record unreviewed: Repo, Env and SHA are required")
	}
	return l.inserted(ctx, "record unreviewed", `INSERT INTO rdsbot_unreviewed (repo, env, sha, files, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		u.Repo, u.Env, strings.ToLower(u.SHA), strings.Join(u.Files, "\n"), l.stamp())
}

// FindUnreviewed returns the unreviewed commits of env whose SHA starts
// with prefix (at least 7 hex digits), oldest first.
func (l *Ledger) FindUnreviewed(ctx context.Context, repo, env, prefix string) ([]Unreviewed, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 7 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, nil
	}
	rows, err := l.db.QueryContext(ctx, l.q(`SELECT sha, files, at FROM rdsbot_unreviewed
		WHERE repo = ? AND env = ? AND sha LIKE ? ORDER BY at, sha`), repo, env, prefix+"%")
	if err != nil {
		return nil, fmt.Errorf("ledger: find unreviewed: %w", err)
	}
	defer rows.Close()
	var out []Unreviewed
	for rows.Next() {
		u := Unreviewed{Repo: repo, Env: env}
		var files string
		var at int64
		if err := rows.Scan(&u.SHA, &files, &at); err != nil {
			return nil, fmt.Errorf("ledger: find unreviewed: %w", err)
		}
		if files != "" {
			u.Files = strings.Split(files, "\n")
		}
		u.At = time.Unix(at, 0).UTC()
		out = append(out, u)
	}
	return out, rows.Err()
}

// Release is a break-glass approver's acceptance, after the fact, of an
// unreviewed commit in one environment.
type Release struct {
	Repo, Env, SHA string
	By             string
	Reason         string
	At             time.Time
}

// RecordRelease records a release. The first release of a commit stays; it
// reports whether this one was recorded.
func (l *Ledger) RecordRelease(ctx context.Context, r Release) (bool, error) {
	if r.Repo == "" || r.Env == "" || r.SHA == "" || r.By == "" {
		return false, errors.New("ledger: record release: Repo, Env, SHA and By are required")
	}
	return l.inserted(ctx, "record release", `INSERT INTO rdsbot_release (repo, env, sha, by_login, reason, at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.Repo, r.Env, strings.ToLower(r.SHA), strings.ToLower(r.By), r.Reason, l.stamp())
}

// Released returns the release of env's commit sha, if any.
func (l *Ledger) Released(ctx context.Context, repo, env, sha string) (Release, bool, error) {
	r := Release{Repo: repo, Env: env, SHA: strings.ToLower(sha)}
	var at int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT by_login, reason, at FROM rdsbot_release WHERE repo = ? AND env = ? AND sha = ?`),
		repo, env, r.SHA).Scan(&r.By, &r.Reason, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Release{}, false, nil
	case err != nil:
		return Release{}, false, fmt.Errorf("ledger: released: %w", err)
	}
	r.At = time.Unix(at, 0).UTC()
	return r, true, nil
}
