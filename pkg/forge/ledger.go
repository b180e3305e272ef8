package forge

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// CommitLedger remembers the commits the bot itself wrote: the only fact
// about a commit that nobody else can forge (a commit's author and
// committer are text anyone pushing can set). Propose records a commit
// before any branch points at it, and treats a branch head as the bot's
// only when the ledger knows it.
//
// repo is "owner/name" in lower case; sha is the 40-hex commit id. An
// implementation must be durable (a commit recorded before a crash is
// known after it) and shared by every replica of the bot.
type CommitLedger interface {
	RecordCommit(ctx context.Context, repo, sha string) error
	OwnCommit(ctx context.Context, repo, sha string) (bool, error)
}

// MemoryLedger is a CommitLedger in memory: for tests, and for a single
// process that may forget its branches when it restarts (a branch the bot
// no longer recognises is reported as not its own, never taken over). It
// keeps the most recent commits up to its bound. Safe for concurrent use.
type MemoryLedger struct {
	mu   sync.Mutex
	shas *simplelru.LRU[string, struct{}]
}

// NewMemoryLedger returns a ledger that remembers up to max commits (at
// least 1; 0 means 65,536).
func NewMemoryLedger(max int) *MemoryLedger {
	if max <= 0 {
		max = 1 << 16
	}
	l, _ := simplelru.NewLRU[string, struct{}](max, nil)
	return &MemoryLedger{shas: l}
}

// RecordCommit remembers sha as the bot's in repo.
func (m *MemoryLedger) RecordCommit(_ context.Context, repo, sha string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shas.Add(ledgerKey(repo, sha), struct{}{})
	return nil
}

// OwnCommit reports whether sha was recorded for repo.
func (m *MemoryLedger) OwnCommit(_ context.Context, repo, sha string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shas.Contains(ledgerKey(repo, sha)), nil
}

func ledgerKey(repo, sha string) string { return strings.ToLower(repo) + "@" + strings.ToLower(sha) }

// ownCommit asks the ledger whether the bot wrote sha in owner/name.
func (c *Client) ownCommit(ctx context.Context, owner, name, sha string) (bool, error) {
	own, err := c.cfg.Ledger.OwnCommit(ctx, strings.ToLower(owner+"/"+name), strings.ToLower(sha))
	if err != nil {
		return false, fmt.Errorf("forge: commit ledger: is %.12s of %s/%s the bot's: %w", sha, owner, name, err)
	}
	return own, nil
}

// recordCommit writes sha into the ledger; nothing may point at it before.
func (c *Client) recordCommit(ctx context.Context, owner, name, sha string) error {
	if err := c.cfg.Ledger.RecordCommit(ctx, strings.ToLower(owner+"/"+name), strings.ToLower(sha)); err != nil {
		return fmt.Errorf("forge: commit ledger: record %.12s of %s/%s: %w", sha, owner, name, err)
	}
	return nil
}
