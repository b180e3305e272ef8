package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
)

// Missing explains in plain sentences what the policy still needs, one
// sentence per missing thing; empty when satisfied. Logins and names are
// not escaped: use Render for markdown.
func (r *Result) Missing() []string {
	var out []string
	out = append(out, r.Problems...)
	for _, b := range r.Blocks {
		out = append(out, fmt.Sprintf("%s (team %s) requested changes: they must approve, or their review must be dismissed.", b.Actor.Login, b.Team))
	}
	for _, q := range r.Requirements {
		if q.Satisfied {
			continue
		}
		var s string
		switch q.Kind {
		case NeedReview:
			s = fmt.Sprintf("An approving review by a member of team %s (group %s).", q.Teams[0], q.Groups[0])
		case NeedHuman:
			s = fmt.Sprintf("An approving review by a member of team %s: %s.", strings.Join(q.Teams, " or "), q.Reason)
		case NeedLabel:
			s = fmt.Sprintf("The label %s, added by a member of team %s (%s).", q.Label, q.Teams[0], q.Reason)
		}
		for _, a := range q.Stale {
			via := a.Via
			if a.Label != "" {
				via += " " + a.Label
			}
			s += fmt.Sprintf(" %s (%s) does not count: %s.", a.Actor.Login, via, a.Reason)
		}
		out = append(out, s)
	}
	return out
}

// Check is the rdsbot/approval check run for this result: in progress
// until satisfied, then success; in warn mode always success, with the
// title saying what is missing.
func (r *Result) Check() Check {
	c := Check{Summary: Render(r)}
	missing := len(r.Problems) + len(r.Blocks)
	for _, q := range r.Requirements {
		if !q.Satisfied {
			missing++
		}
	}
	switch {
	case r.Satisfied:
		c.Status, c.Conclusion = StatusCompleted, ConclusionOK
		c.Title = "Approved"
		if len(r.Requirements) == 0 {
			c.Title = "Self-serve: no approval needed"
		}
	case r.Mode == config.ModeWarn:
		c.Status, c.Conclusion = StatusCompleted, ConclusionOK
		c.Title = fmt.Sprintf("Not approved, passing in warn mode: %d missing", missing)
	default:
		c.Status = StatusInProgress
		c.Title = fmt.Sprintf("Waiting: %d missing", missing)
		if len(r.Blocks) > 0 {
			c.Title = fmt.Sprintf("Changes requested; %d missing", missing)
		}
	}
	return c
}

// Merge is the merge-time re-check's verdict, for a result evaluated on
// what merged: proceed when approved; else when a valid break-glass label
// is present (audit it); else when the environment is in warn mode;
// otherwise nothing may be applied and the request fails with Reason.
func (r *Result) Merge() MergeDecision {
	missing := strings.Join(r.Missing(), " ")
	switch {
	case r.Satisfied:
		return MergeDecision{Proceed: true, Reason: "approved on the merged content"}
	case r.BreakGlass.Valid:
		return MergeDecision{Proceed: true, BreakGlass: true,
			Reason: fmt.Sprintf("merged without the required approvals; proceeding on %s added by %s. Missing: %s", r.BreakGlass.Label, r.BreakGlass.By.Login, missing)}
	case r.Mode == config.ModeWarn:
		return MergeDecision{Proceed: true, Warned: true,
			Reason: fmt.Sprintf("merged without the required approvals; %s is in warn mode. Missing: %s", r.Environment, missing)}
	}
	reason := "merged without the required approvals, so nothing is applied. Missing: " + missing
	if r.BreakGlass.Present {
		reason += fmt.Sprintf(" The %s label does not count: %s %s.", r.BreakGlass.Label, r.BreakGlass.By.Login, r.BreakGlass.Reason)
	}
	return MergeDecision{Reason: reason}
}

// MayRetry decides whether by may run `/rds retry` on this request. In a
// self-serve environment anyone the bot lets command may. Elsewhere
// (separation of duties) the requester and the approvers may not retry
// alone: it takes an active member of a team the request needs or of the
// break-glass groups, who neither requested nor approved it.
func (r *Result) MayRetry(ctx context.Context, f Facts, by Actor) (Decision, error) {
	p := r.policy
	e := &evaluation{ctx: ctx, p: p, in: r.in, f: f, members: map[string]Membership{}}
	switch {
	case by.Login == "":
		return Decision{Reason: "unknown account"}, nil
	case e.isBot(by):
		return Decision{Reason: "a bot may not retry a request"}, nil
	case p.cfg.Approvals.SelfServe(r.Environment):
		return Decision{Allowed: true, Reason: r.Environment + " is self-serve"}, nil
	}
	teams := slices.Clone(r.requiredTeams)
	for _, t := range p.teams(p.cfg.Approvals.BreakGlass.Groups) {
		if !slices.Contains(teams, t) {
			teams = append(teams, t)
		}
	}
	who := strings.Join(teams, " or ")
	for _, q := range r.in.Request.Requesters {
		if by.Is(q) {
			return Decision{Reason: fmt.Sprintf("the requester may not retry a %s request alone; ask a member of %s who did not approve it", r.Environment, who)}, nil
		}
	}
	if slices.ContainsFunc(r.Approvers, by.Is) {
		return Decision{Reason: fmt.Sprintf("an approver of this request may not also retry it; ask another member of %s", who)}, nil
	}
	t, pending, err := e.firstActive(teams, by)
	if err != nil {
		return Decision{}, err
	}
	if t == "" {
		if pending {
			return Decision{Reason: "team membership not yet accepted: " + who}, nil
		}
		return Decision{Reason: "only a member of " + who + " may retry a " + r.Environment + " request"}, nil
	}
	return Decision{Allowed: true, Reason: "member of " + t}, nil
}
