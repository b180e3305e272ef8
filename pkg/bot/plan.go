package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// planText renders what a request would change on its base now, as a diff,
// without committing anything: the answer to /rds plan.
func (b *Bot) planText(ctx context.Context, c *forge.Client, rc *repoContext, is *forge.Issue, f *requestFacts) (string, error) {
	raw, probs := RawFromText(rc.planner.Schema.Request, f.text.Body, f.requester(), contract.Source(f.origin.Source))
	req, vprobs := contract.Validate(rc.planner.Schema, raw)
	probs = append(probs, vprobs...)
	var body strings.Builder
	fmt.Fprintf(&body, "plan for %s.\n\n", contract.RequestID(is.Number))
	if err := probs.Err(); err != nil {
		fmt.Fprintf(&body, "The request is invalid, so there is no plan:\n\n%s", md.Block("", err.Error()))
		return body.String(), nil
	}
	base, err := rc.config().BaseFor(req.BaseBranch)
	if err != nil {
		base = rc.config().BaseBranch
	}
	snap, err := c.Snapshot(ctx, rc.repo, base)
	if err != nil {
		return "", err
	}
	plan, err := planAt(snap.WithContext(ctx), raw, contract.RequestID(is.Number), is, "")
	switch {
	case err != nil:
		fmt.Fprintf(&body, "The request cannot be planned on %s:\n\n%s", md.Code(base), md.Block("", err.Error()))
	case plan.Empty():
		fmt.Fprintf(&body, "%s at `%.7s` already holds this request: nothing to change.\n", md.Code(base), snap.SHA)
	default:
		fmt.Fprintf(&body, "On %s at `%.7s`, branch %s would change %d file(s):\n\n", md.Code(base), snap.SHA, md.Code(plan.Branch), len(plan.Changes))
		var d strings.Builder
		for _, ch := range plan.Changes {
			d.WriteString(diff.Unified(ch.Path, ch.Old, ch.New))
		}
		body.WriteString(md.Block("diff", d.String()))
	}
	return md.Cap(body.String(), md.MaxBody-200, "The diff is longer than a comment can hold; run `rdsbot request --dry-run` on a checkout to see all of it."), nil
}
