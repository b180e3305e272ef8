package forge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// IsTeamMember reports whether login is an active member of org's team
// (a pending invitation is not membership). Answers, including "no", are
// reused for Config.TeamTTL, so evaluating approvals for many reviews costs
// one call per person and team.
func (c *Client) IsTeamMember(ctx context.Context, org, team, login string) (bool, error) {
	key := c.label + "\x00" + strings.ToLower(org+"/"+team+"/"+login)
	if member, ok := c.teams.get(key); ok {
		return member, nil
	}
	m, _, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
	member := err == nil && m.GetState() == "active"
	if err != nil && !IsNotFound(err) {
		return false, wrap(fmt.Sprintf("team membership of %s in %s/%s", login, org, team), err)
	}
	c.teams.put(key, member)
	return member, nil
}

// ForgetTeams drops cached memberships (after a membership webhook).
func (c *Client) ForgetTeams() { c.teams.clear() }

// maxTeamEntries bounds the memberships remembered: logins come from
// events anyone can cause (a review, a comment), so the cache must not
// grow with them.
const maxTeamEntries = 16384

// teamCache remembers membership answers for a while, least recently used
// out first when full. Expired answers are dropped when read, or evicted.
type teamCache struct {
	mu  sync.Mutex
	ttl time.Duration
	now func() time.Time
	lru *simplelru.LRU[string, teamEntry]
}

type teamEntry struct {
	member bool
	until  time.Time
}

func newTeamCache(ttl time.Duration) *teamCache {
	l, _ := simplelru.NewLRU[string, teamEntry](maxTeamEntries, nil)
	return &teamCache{ttl: ttl, now: time.Now, lru: l}
}

func (t *teamCache) get(key string) (bool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.lru.Get(key)
	if !ok {
		return false, false
	}
	if !t.now().Before(e.until) {
		t.lru.Remove(key)
		return false, false
	}
	return e.member, true
}

func (t *teamCache) put(key string, member bool) {
	if t.ttl <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lru.Add(key, teamEntry{member: member, until: t.now().Add(t.ttl)})
}

func (t *teamCache) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lru.Purge()
}

func (t *teamCache) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
