package forge

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"
)

// MembershipState is a user's state in a team.
type MembershipState string

// Membership states. Only MemberActive counts for approvals: a pending
// membership is an invitation the user has not accepted.
const (
	MemberActive  MembershipState = "active"
	MemberPending MembershipState = "pending"
	MemberNone    MembershipState = "none"
)

// TeamMembership is a user's membership of a team as GitHub reports it: a
// member of a child team is an active member of the parent.
type TeamMembership struct {
	State MembershipState
	Role  string // member, maintainer ("" for MemberNone)
}

// TeamMembership reads login's membership of org's team, asking GitHub
// every time (no TTL; the ETag cache makes an unchanged active or pending
// answer a free 304), so a removal is seen at the next evaluation. A 404
// (no membership, or no such team) is MemberNone; use Team to tell them apart.
func (c *Client) TeamMembership(ctx context.Context, org, team, login string) (TeamMembership, error) {
	m, _, err := c.gh.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
	if IsNotFound(err) {
		return TeamMembership{State: MemberNone}, nil
	}
	if err != nil {
		return TeamMembership{}, wrap(fmt.Sprintf("team membership of %s in %s/%s", login, org, team), err)
	}
	switch MembershipState(m.GetState()) {
	case MemberActive:
		return TeamMembership{State: MemberActive, Role: m.GetRole()}, nil
	case MemberPending:
		return TeamMembership{State: MemberPending, Role: m.GetRole()}, nil
	}
	// A state this code does not know is not membership.
	return TeamMembership{State: MemberNone}, nil
}

// Team is an organisation team.
type Team struct {
	ID     int64
	Slug   string
	Name   string
	Parent string // the parent team's slug, "" at the top
}

func teamOf(t *github.Team) Team {
	return Team{ID: t.GetID(), Slug: t.GetSlug(), Name: t.GetName(), Parent: t.GetParent().GetSlug()}
}

// Team reads a team; ErrNotFound when it does not exist or the installation
// cannot see the organisation's teams.
func (c *Client) Team(ctx context.Context, org, slug string) (Team, error) {
	t, _, err := c.gh.Teams.GetTeamBySlug(ctx, org, slug)
	if err != nil {
		return Team{}, wrap(fmt.Sprintf("get team %s/%s", org, slug), err)
	}
	return teamOf(t), nil
}

// TeamMembers lists the logins of a team's active members, members of its
// child teams included (as GitHub lists them), sorted, all pages. Pending
// invitations are not members.
func (c *Client) TeamMembers(ctx context.Context, org, team string) ([]string, error) {
	opt := &github.TeamListTeamMembersOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var out []string
	for {
		users, resp, err := c.gh.Teams.ListTeamMembersBySlug(ctx, org, team, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list members of %s/%s", org, team), err)
		}
		for _, u := range users {
			out = append(out, u.GetLogin())
		}
		if resp.NextPage == 0 {
			sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

// ChildTeams lists the teams directly under a team, all pages.
func (c *Client) ChildTeams(ctx context.Context, org, team string) ([]Team, error) {
	opt := &github.ListOptions{PerPage: 100}
	var out []Team
	for {
		teams, resp, err := c.gh.Teams.ListChildTeamsByParentSlug(ctx, org, team, opt)
		if err != nil {
			return nil, wrap(fmt.Sprintf("list child teams of %s/%s", org, team), err)
		}
		for _, t := range teams {
			out = append(out, teamOf(t))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}
