package bot

import (
	"context"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// mayRetry decides whether who may run /rds retry on request n: outside the
// self-serve environments, neither the requester alone nor an approver may
// (separation of duties, policy.Result.MayRetry). The policy is evaluated on
// the request's open pull request when there is one (its approvers are
// known then), else on the request alone.
func (b *Bot) mayRetry(ctx context.Context, c *forge.Client, repo string, n int, who string) (policy.Decision, error) {
	rc, err := b.loadRepo(ctx, c, repo, b.maxAge)
	if err != nil {
		return policy.Decision{}, err
	}
	req, requesters, err := b.requestOf(ctx, rc, repo, n, c.BotLogin())
	if err != nil {
		return policy.Decision{}, err
	}
	if req == nil {
		// An invalid request has nothing to approve: a retry only
		// validates it again.
		return policy.Decision{Allowed: true, Reason: "the request is not valid yet"}, nil
	}
	by := policy.Actor{Login: who, Type: "User"}
	pulls, err := b.ownPulls(ctx, c, repo, n)
	if err != nil {
		return policy.Decision{}, err
	}
	branch := rc.config().BranchFor(req.Environment, req.DatabaseName)
	for _, pr := range pulls {
		if pr.State != "open" || pr.Head != branch {
			continue
		}
		g, err := b.evaluate(ctx, c, rc, repo, pr, evalTarget{compareBase: pr.Base, head: pr.HeadSHA, checksOn: pr.HeadSHA})
		if err != nil {
			return policy.Decision{}, err
		}
		if g.failure != "" {
			return policy.Decision{Reason: "the approval policy cannot be evaluated: " + g.failure}, nil
		}
		for _, e := range g.evals {
			if e.env == req.Environment && e.kind == policy.KindCreate {
				return e.res.MayRetry(ctx, g.facts, by)
			}
		}
	}
	p, err := policy.New(rc.config(), rc.planner.Schema)
	if err != nil {
		return policy.Decision{Reason: "the approval policy cannot be evaluated: " + err.Error()}, nil
	}
	org, _, _ := strings.Cut(repo, "/")
	f := &teamFacts{c: c, org: org}
	res, err := p.Evaluate(ctx, policy.Input{Request: policy.FromContract(req, requesters...),
		App: policy.Actor{Login: c.BotLogin(), Type: "Bot"}}, f)
	if err != nil {
		return policy.Decision{}, err
	}
	return res.MayRetry(ctx, f, by)
}

// teamFacts are the facts of a request without a pull request: only team
// memberships, read from GitHub.
type teamFacts struct {
	policy.Static
	c   *forge.Client
	org string
}

func (f *teamFacts) Membership(ctx context.Context, team, login string) (policy.Membership, error) {
	return membershipOf(ctx, f.c, f.org, team, login)
}
