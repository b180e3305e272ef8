package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// release handles `/rds release <sha> <reason>` on request n (an issue or
// pull request of the environment the commit holds) by who, and returns the
// reply. The policy decides (a break-glass member who did not push the
// commit, as the push event's sender recorded it); an accepted release is
// recorded in the ledger, marked on the commit, and the environment's
// rollout starts again.
func (b *Bot) release(ctx context.Context, c *forge.Client, repo string, n int, who, body string) (string, error) {
	id := contract.RequestID(n)
	sha := CommandArg(body)
	reason := strings.TrimSpace(strings.TrimPrefix(commandRest(body), sha))
	if sha == "" || reason == "" {
		return "use `/rds release <commit> <reason>`: the commit rdsbot holds, and why it may be applied.", nil
	}
	rc, err := b.loadRepo(ctx, c, repo, b.maxAge)
	if err != nil {
		return "", err
	}
	req, _, err := b.requestOf(ctx, rc, repo, n, c.BotLogin())
	if err != nil {
		return "", err
	}
	if req == nil {
		return fmt.Sprintf("%s is not a valid request, so the environment of the release is unknown.", id), nil
	}
	env := req.Environment
	found, err := b.ledger.FindUnreviewed(ctx, repo, env, sha)
	if err != nil {
		return "", err
	}
	if len(found) != 1 {
		return fmt.Sprintf("%s is not a commit that holds %s (give at least 7 characters of a commit rdsbot reported).", md.Code(sha), md.Text(env)), nil
	}
	u := found[0]
	short := u.SHA[:12]
	if rel, ok, err := b.ledger.Released(ctx, repo, env, u.SHA); err != nil {
		return "", err
	} else if ok {
		return fmt.Sprintf("commit %s was already released for %s by @%s.", md.Code(short), md.Text(env), md.Text(rel.By)), nil
	}
	var pushers []policy.Actor
	if p, ok, err := b.ledger.Pusher(ctx, repo, u.SHA); err != nil {
		return "", err
	} else if ok {
		pushers = append(pushers, policy.Actor{Login: p})
	}
	p, err := policy.New(rc.config(), rc.planner.Schema)
	if err != nil {
		return "the approval policy cannot be evaluated: " + md.Text(err.Error()), nil
	}
	org, _, _ := strings.Cut(repo, "/")
	dec, err := p.MayRelease(ctx, &teamFacts{c: c, org: org}, policy.Release{Environment: env,
		By: policy.Actor{Login: who, Type: "User"}, Pushers: pushers, App: policy.Actor{Login: c.BotLogin(), Type: "Bot"}})
	if err != nil {
		return "", err
	}
	if !dec.Allowed {
		b.log.InfoContext(ctx, "release refused", "repository", repo, "env", env, "commit", u.SHA, "user", who, "reason", dec.Reason)
		return fmt.Sprintf("commit %s was not released: %s.", md.Code(short), md.Text(dec.Reason)), nil
	}
	reason = md.Truncate(reason, maxReason)
	if _, err := b.ledger.RecordRelease(ctx, ledger.Release{Repo: repo, Env: env, SHA: u.SHA, By: who, Reason: reason}); err != nil {
		return "", err
	}
	b.log.InfoContext(ctx, "unreviewed commit released", "repository", repo, "env", env, "commit", u.SHA, "by", who, "policy", dec.Reason)
	if err := c.SetStatus(ctx, repo, u.SHA, forge.Status{Context: ApplyStatus, State: "success",
		Description: md.Truncate(fmt.Sprintf("released for %s by %s", env, who), 140)}); err != nil {
		return "", err
	}
	if !b.rollout.Off {
		if err := b.enqueueApply(ctx, repo, env, "/rds release by "+who); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("commit %s is released for %s (%s), with the reason: %s. The rollout of %s starts again; the status comment follows it.",
		md.Code(short), md.Text(env), md.Text(dec.Reason), md.Text(reason), md.Text(env)), nil
}
