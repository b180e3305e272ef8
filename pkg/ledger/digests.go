package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The approval gate's own records: the content digest of every pull request
// head it evaluated (the timeline approvals are matched against), the last
// approval table it rendered for a pull request (so the request job writes
// the same pull request body and status as the gate), and the merge-time
// re-check of merged pull requests.

var gateSchema = []string{
	`CREATE TABLE IF NOT EXISTS rdsbot_digest (
		repo TEXT NOT NULL, pull BIGINT NOT NULL, head TEXT NOT NULL, base TEXT NOT NULL,
		digest TEXT NOT NULL, seen BIGINT NOT NULL,
		PRIMARY KEY (repo, pull, seen, head, base))`,
	`CREATE TABLE IF NOT EXISTS rdsbot_approval (
		repo TEXT NOT NULL, pull BIGINT NOT NULL, issue BIGINT NOT NULL, body TEXT NOT NULL,
		satisfied BIGINT NOT NULL, digest TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, pull))`,
	`CREATE INDEX IF NOT EXISTS rdsbot_approval_issue ON rdsbot_approval (repo, issue)`,
	`CREATE TABLE IF NOT EXISTS rdsbot_merge_check (
		repo TEXT NOT NULL, pull BIGINT NOT NULL, merge_sha TEXT NOT NULL, proceed BIGINT NOT NULL,
		break_glass BIGINT NOT NULL, warned BIGINT NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL,
		PRIMARY KEY (repo, pull))`,
}

func init() { schema = append(schema, gateSchema...) }

// --- Digest timeline -------------------------------------------------------

// HeadDigest is one head of a pull request the gate evaluated: its content
// digest against the base branch the pull request had then, and when the
// bot first saw that head on that base.
type HeadDigest struct {
	Repo   string
	Pull   int
	Head   string // commit
	Base   string // base branch
	Digest string
	Seen   time.Time
}

// SeeHead records that pull request pull was at head on base, with digest,
// at time at. A row is added only when the pull request's latest record is
// another head or base: the timeline holds each change once, in order, and
// a replayed evaluation writes nothing.
func (l *Ledger) SeeHead(ctx context.Context, h HeadDigest) error {
	if h.Repo == "" || h.Pull <= 0 || h.Head == "" || h.Base == "" || h.Digest == "" {
		return errors.New("ledger: see head: Repo, Pull, Head, Base and Digest are required")
	}
	at := h.Seen
	if at.IsZero() {
		at = l.now()
	}
	head := strings.ToLower(h.Head)
	last, ok, err := l.lastHead(ctx, h.Repo, h.Pull)
	if err != nil {
		return err
	}
	if ok && last.Head == head && last.Base == h.Base {
		return nil
	}
	// Never before the latest record: the timeline stays ordered even if a
	// clock steps back.
	ms := at.UnixMilli()
	if ok && ms <= last.Seen.UnixMilli() {
		ms = last.Seen.UnixMilli() + 1
	}
	_, err = l.exec(ctx, "see head", `INSERT INTO rdsbot_digest (repo, pull, head, base, digest, seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		h.Repo, h.Pull, head, h.Base, h.Digest, ms)
	return err
}

func (l *Ledger) lastHead(ctx context.Context, repo string, pull int) (HeadDigest, bool, error) {
	h := HeadDigest{Repo: repo, Pull: pull}
	var ms int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT head, base, digest, seen FROM rdsbot_digest WHERE repo = ? AND pull = ? ORDER BY seen DESC LIMIT 1`),
		repo, pull).Scan(&h.Head, &h.Base, &h.Digest, &ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return HeadDigest{}, false, nil
	case err != nil:
		return HeadDigest{}, false, fmt.Errorf("ledger: last head: %w", err)
	}
	h.Seen = time.UnixMilli(ms).UTC()
	return h, true, nil
}

// Timeline lists the heads recorded for a pull request, oldest first.
func (l *Ledger) Timeline(ctx context.Context, repo string, pull int) ([]HeadDigest, error) {
	rows, err := l.db.QueryContext(ctx, l.q(`SELECT head, base, digest, seen FROM rdsbot_digest WHERE repo = ? AND pull = ? ORDER BY seen`), repo, pull)
	if err != nil {
		return nil, fmt.Errorf("ledger: timeline: %w", err)
	}
	defer rows.Close()
	var out []HeadDigest
	for rows.Next() {
		h := HeadDigest{Repo: repo, Pull: pull}
		var ms int64
		if err := rows.Scan(&h.Head, &h.Base, &h.Digest, &ms); err != nil {
			return nil, fmt.Errorf("ledger: timeline: %w", err)
		}
		h.Seen = time.UnixMilli(ms).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// GatedPulls lists the pull requests of repo the gate has evaluated, in
// number order.
func (l *Ledger) GatedPulls(ctx context.Context, repo string) ([]int, error) {
	return column[int](ctx, l, "gated pulls", `SELECT DISTINCT pull FROM rdsbot_digest WHERE repo = ? ORDER BY pull`, repo)
}

// --- Approval table ----------------------------------------------------------

// Approval is the last approval table the gate rendered for a pull request.
type Approval struct {
	Repo      string
	Pull      int
	Issue     int    // the request issue, 0 for a pull request without one
	Table     string // markdown (policy.Render)
	Satisfied bool
	Digest    string
	At        time.Time
}

// SaveApproval records a pull request's approval table. changed reports
// whether it differs from the one recorded (table or satisfaction).
func (l *Ledger) SaveApproval(ctx context.Context, a Approval) (changed bool, err error) {
	if a.Repo == "" || a.Pull <= 0 {
		return false, errors.New("ledger: save approval: Repo and Pull are required")
	}
	old, ok, err := l.Approval(ctx, a.Repo, a.Pull)
	if err != nil {
		return false, err
	}
	if ok && old.Table == a.Table && old.Satisfied == a.Satisfied && old.Issue == a.Issue && old.Digest == a.Digest {
		return false, nil
	}
	const q = `INSERT INTO rdsbot_approval (repo, pull, issue, body, satisfied, digest, at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo, pull) DO UPDATE SET issue = excluded.issue, body = excluded.body, satisfied = excluded.satisfied,
		digest = excluded.digest, at = excluded.at`
	if _, err := l.exec(ctx, "save approval", q, a.Repo, a.Pull, a.Issue, a.Table, boolInt(a.Satisfied), a.Digest, l.stamp()); err != nil {
		return false, err
	}
	return true, nil
}

// Approval returns the last approval table recorded for a pull request.
func (l *Ledger) Approval(ctx context.Context, repo string, pull int) (Approval, bool, error) {
	a := Approval{Repo: repo, Pull: pull}
	var sat, at int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT issue, body, satisfied, digest, at FROM rdsbot_approval WHERE repo = ? AND pull = ?`),
		repo, pull).Scan(&a.Issue, &a.Table, &sat, &a.Digest, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Approval{}, false, nil
	case err != nil:
		return Approval{}, false, fmt.Errorf("ledger: approval: %w", err)
	}
	a.Satisfied, a.At = sat != 0, time.Unix(at, 0).UTC()
	return a, true, nil
}

// --- Merge-time re-check -----------------------------------------------------

// MergeCheck is the policy's verdict on what a pull request merged.
type MergeCheck struct {
	Repo       string
	Pull       int
	MergeSHA   string
	Proceed    bool
	BreakGlass bool
	Warned     bool
	Reason     string
	At         time.Time
}

// RecordMergeCheck records the merge-time verdict of a pull request. The
// first verdict for a merge commit stays: a replay cannot overturn it.
func (l *Ledger) RecordMergeCheck(ctx context.Context, m MergeCheck) error {
	if m.Repo == "" || m.Pull <= 0 || m.MergeSHA == "" {
		return errors.New("ledger: record merge check: Repo, Pull and MergeSHA are required")
	}
	_, err := l.exec(ctx, "record merge check", `INSERT INTO rdsbot_merge_check (repo, pull, merge_sha, proceed, break_glass, warned, reason, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.Repo, m.Pull, strings.ToLower(m.MergeSHA), boolInt(m.Proceed), boolInt(m.BreakGlass), boolInt(m.Warned), m.Reason, l.stamp())
	return err
}

// MergeCheckOf returns the recorded merge-time verdict of a pull request.
func (l *Ledger) MergeCheckOf(ctx context.Context, repo string, pull int) (MergeCheck, bool, error) {
	m := MergeCheck{Repo: repo, Pull: pull}
	var p, bg, w, at int64
	err := l.db.QueryRowContext(ctx, l.q(`SELECT merge_sha, proceed, break_glass, warned, reason, at FROM rdsbot_merge_check WHERE repo = ? AND pull = ?`),
		repo, pull).Scan(&m.MergeSHA, &p, &bg, &w, &m.Reason, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return MergeCheck{}, false, nil
	case err != nil:
		return MergeCheck{}, false, fmt.Errorf("ledger: merge check: %w", err)
	}
	m.Proceed, m.BreakGlass, m.Warned, m.At = p != 0, bg != 0, w != 0, time.Unix(at, 0).UTC()
	return m, true, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
