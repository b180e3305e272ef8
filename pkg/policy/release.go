package policy

import (
	"context"
	"strings"
)

// Release is a `/rds release`: a person accepting, after the fact, a
// commit that changed an environment without a reviewed pull request.
type Release struct {
	Environment string
	By          Actor
	// Pushers pushed the commit (as GitHub reported the push's sender,
	// never the commit's author line). Empty: nobody knows who did.
	Pushers []Actor
	// App is the App's own bot account.
	App Actor
}

// MayRelease decides whether a release counts: it takes an active member
// of a break-glass group (approvals.break_glass.groups) who did not push
// the commit. A commit whose pusher is not known cannot be released, since
// separation of duties cannot be checked.
func (p *Policy) MayRelease(ctx context.Context, f Facts, r Release) (Decision, error) {
	e := &evaluation{ctx: ctx, p: p, in: Input{App: r.App}, f: f, members: map[string]Membership{}}
	teams := p.teams(p.cfg.Approvals.BreakGlass.Groups)
	who := strings.Join(teams, " or ")
	switch {
	case r.By.Login == "":
		return Decision{Reason: "unknown account"}, nil
	case e.isBot(r.By):
		return Decision{Reason: "a bot may not release a commit"}, nil
	case len(teams) == 0:
		return Decision{Reason: "no break-glass group is configured (approvals.break_glass.groups)"}, nil
	case len(r.Pushers) == 0:
		return Decision{Reason: "rdsbot did not see who pushed this commit, so it cannot check that someone else releases it; revert it through a reviewed pull request"}, nil
	}
	for _, q := range r.Pushers {
		if r.By.Is(q) {
			return Decision{Reason: "the person who pushed a commit may not release it; ask another member of " + who}, nil
		}
	}
	t, pending, err := e.firstActive(teams, r.By)
	if err != nil {
		return Decision{}, err
	}
	if t == "" {
		if pending {
			return Decision{Reason: "team membership not yet accepted: " + who}, nil
		}
		return Decision{Reason: "only a member of " + who + " may release a commit in " + r.Environment}, nil
	}
	return Decision{Allowed: true, Reason: "member of " + t}, nil
}
