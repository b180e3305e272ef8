package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Merge parts: the commits a checked merge wrote on the base branch before
// its last one (a rebase merge's replayed commits). The merge-time
// re-check checked them together with the merge, so the guard accounts for
// them; they are never apply targets (Merges does not list them).
var mergePartSchema = []string{
	`CREATE TABLE IF NOT EXISTS rdsbot_rollout_merge_part (
		repo TEXT NOT NULL, env TEXT NOT NULL, sha TEXT NOT NULL, merge_sha TEXT NOT NULL,
		pos BIGINT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, env, sha))`,
}

func init() { schema = append(schema, mergePartSchema...) }

// MergePart is a commit a recorded merge wrote before its last one.
type MergePart struct {
	SHA, MergeSHA string
	Pos           int // 0 for the merge's first commit
}

// RecordMergeParts records the commits, oldest first, that the merge
// mergeSHA wrote on the base branch before mergeSHA itself, for env. Call
// it before RecordMerge: parts count only once their merge is recorded,
// so a crash between the two loses nothing. The first record of a commit
// stays.
func (l *Ledger) RecordMergeParts(ctx context.Context, repo, env, mergeSHA string, parts []string) error {
	if repo == "" || env == "" || mergeSHA == "" {
		return errors.New("ledger: record merge parts: repo, env and merge commit are required")
	}
	if len(parts) == 0 {
		return nil
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger: record merge parts: %w", err)
	}
	defer tx.Rollback()
	now := l.stamp()
	for i, sha := range parts {
		if _, err := tx.ExecContext(ctx, l.q(`INSERT INTO rdsbot_rollout_merge_part (repo, env, sha, merge_sha, pos, at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			repo, env, strings.ToLower(sha), strings.ToLower(mergeSHA), i, now); err != nil {
			return fmt.Errorf("ledger: record merge parts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: record merge parts: %w", err)
	}
	return nil
}

// MergeParts returns the parts of env's recorded merges, by merge and
// position.
func (l *Ledger) MergeParts(ctx context.Context, repo, env string) ([]MergePart, error) {
	rows, err := l.db.QueryContext(ctx, l.q(`SELECT p.sha, p.merge_sha, p.pos FROM rdsbot_rollout_merge_part p
		JOIN rdsbot_rollout_merge m ON m.repo = p.repo AND m.env = p.env AND m.sha = p.merge_sha
		WHERE p.repo = ? AND p.env = ? ORDER BY m.seq, p.pos`), repo, env)
	if err != nil {
		return nil, fmt.Errorf("ledger: merge parts: %w", err)
	}
	defer rows.Close()
	var out []MergePart
	for rows.Next() {
		var p MergePart
		if err := rows.Scan(&p.SHA, &p.MergeSHA, &p.Pos); err != nil {
			return nil, fmt.Errorf("ledger: merge parts: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PartRecorded reports whether a commit is a part of a merge recorded for
// any environment.
func (l *Ledger) PartRecorded(ctx context.Context, repo, sha string) (bool, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, l.q(`SELECT COUNT(*) FROM rdsbot_rollout_merge_part p
		JOIN rdsbot_rollout_merge m ON m.repo = p.repo AND m.env = p.env AND m.sha = p.merge_sha
		WHERE p.repo = ? AND p.sha = ?`), repo, strings.ToLower(sha)).Scan(&n); err != nil {
		return false, fmt.Errorf("ledger: part recorded: %w", err)
	}
	return n > 0, nil
}
