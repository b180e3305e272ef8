package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// mergeGroupHandler takes merge_group checks_requested: the policy is
// evaluated again for every pull request of the group, each on what it adds
// to the group (its group's head against the commit the group was built
// on, so another pull request ahead of it that changed the same values
// makes its content other content), and both checks are reported on the
// group's head, always completed: a queue entry never waits for rdsbot.
type mergeGroupHandler struct{ b *Bot }

func (h *mergeGroupHandler) Events() []string { return []string{"merge_group"} }

func (h *mergeGroupHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.MergeGroupEvent](d)
	if err != nil {
		return err
	}
	mg := ev.GetMergeGroup()
	if mg.GetHeadSHA() == "" || d.Repository == "" {
		return nil
	}
	switch ev.GetAction() {
	case "destroyed":
		return b.mergeGroupDestroyed(ctx, d.Repository, mg.GetHeadSHA())
	case "checks_requested":
	default:
		return nil
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
	if err != nil {
		return err
	}
	// The plan first: its job runs beside the gate's evaluation.
	if err := b.mergeGroupPlan(ctx, c, rc, d.Repository, mg.GetHeadRef(), mg.GetHeadSHA(), "merge_group.checks_requested"); err != nil {
		return err
	}
	approval, valid, err := b.gateMergeGroup(ctx, c, rc, d.Repository, mg.GetHeadRef(), mg.GetHeadSHA())
	if errors.Is(err, forge.ErrNotFound) {
		return nil // the group is gone (merged, or rebuilt): nothing waits for it
	}
	if err != nil {
		return err
	}
	if _, err := c.SetCheck(ctx, d.Repository, approval); err != nil {
		return err
	}
	_, err = c.SetCheck(ctx, d.Repository, valid)
	return err
}

// gateMergeGroup evaluates every pull request of a merge group and returns
// the two checks for the group's head.
func (b *Bot) gateMergeGroup(ctx context.Context, c *forge.Client, rc *repoContext, repo, headRef, headSHA string) (forge.Check, forge.Check, error) {
	cfg := rc.config()
	approval := forge.Check{Name: cfg.Approvals.CheckName, HeadSHA: headSHA, Status: policy.StatusCompleted}
	valid := forge.Check{Name: ValidateCheck, HeadSHA: headSHA, Status: policy.StatusCompleted}
	chain, err := c.MergeGroupChain(ctx, repo, headRef, headSHA)
	if err != nil {
		return approval, valid, err
	}
	var table, problems strings.Builder
	passes, ok := true, true
	gated, missing := 0, 0
	for _, grp := range chain {
		pr, err := c.GetPull(ctx, repo, grp.Pull)
		if err != nil {
			return approval, valid, err
		}
		g, err := b.evaluate(ctx, c, rc, repo, pr, evalTarget{compareBase: grp.BuiltOn, head: grp.HeadSHA, checksOn: headSHA, validate: true})
		if errors.Is(err, forge.ErrTooManyFiles) {
			passes, ok = false, false
			fmt.Fprintf(&table, "- #%d changes more files than GitHub lists: it cannot be checked here.\n", grp.Pull)
			continue
		}
		if err != nil {
			return approval, valid, err
		}
		if len(g.covered) == 0 {
			continue
		}
		gated++
		ch := g.approvalCheck(cfg.Approvals.CheckName, headSHA, true)
		if ch.Conclusion != policy.ConclusionOK {
			passes = false
			missing++
		}
		fmt.Fprintf(&table, "### #%d: %s\n\n%s\n", grp.Pull, md.Text(ch.Title), ch.Summary)
		for _, p := range g.valid.problems {
			ok = false
			fmt.Fprintf(&problems, "- #%d: %s\n", grp.Pull, md.Text(p))
		}
	}
	switch {
	case gated == 0 && passes:
		approval.Conclusion, approval.Title = policy.ConclusionOK, "Nothing to approve"
		approval.Summary = "No pull request of this merge group changes a file rdsbot gates."
	case passes:
		approval.Conclusion, approval.Title = policy.ConclusionOK, fmt.Sprintf("Approved: %d pull request(s) on the group's content", gated)
		approval.Summary = table.String()
	default:
		approval.Conclusion, approval.Title = "failure", fmt.Sprintf("Not approved: %d of %d pull request(s)", missing, gated)
		approval.Summary = "Each pull request is checked on what it adds to this group; approvals given on other content (another pull request ahead of it changed the same values) do not count.\n\n" + table.String()
	}
	approval.Summary = md.Cap(approval.Summary, 60000, "The tables were cut to fit a check run.")
	if ok {
		valid.Conclusion, valid.Title, valid.Summary = policy.ConclusionOK, "Valid", "Every pull request of the group follows the rules rdsbot's own plans follow."
	} else {
		valid.Conclusion, valid.Title = "failure", "Problems in the merge group"
		valid.Summary = md.Cap("These changes break the rules rdsbot's own plans follow (`rdsbot validate`):\n\n"+problems.String(), 60000, "More problems were left out.")
		if problems.Len() == 0 {
			valid.Summary = "A pull request of the group could not be checked.\n\n" + table.String()
		}
	}
	return approval, valid, nil
}
