package forge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// IsTeamMember reports whether login is an active member of org's team
// (a pending invitation is not membership). Answers, including "no", are
// reused for Config.TeamTTL, so evaluating approvals for many reviews costs
// one call per person and team.
func (c *Client) IsTeamMember(ctx context.Context, org, team, login string) (bool, error) {
	key := strings.ToLower(org + "/" + team + "/" + login)
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

type teamCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	entries map[string]teamEntry
}

type teamEntry struct {
	member bool
	until  time.Time
}

func newTeamCache(ttl time.Duration) *teamCache {
	return &teamCache{ttl: ttl, now: time.Now, entries: map[string]teamEntry{}}
}

func (t *teamCache) get(key string) (bool, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[key]
	if !ok || !t.now().Before(e.until) {
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
	now := t.now()
	if len(t.entries) > 10000 {
		for k, e := range t.entries {
			if !now.Before(e.until) {
				delete(t.entries, k)
			}
		}
	}
	t.entries[key] = teamEntry{member: member, until: now.Add(t.ttl)}
}

func (t *teamCache) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = map[string]teamEntry{}
}
