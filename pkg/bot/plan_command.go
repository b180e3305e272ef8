package bot

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// planAllowScope is the ledger scope of the commits a member of the
// command teams allowed rdsbot to plan although it did not write them; the
// key names the pull request and the whole commit id.
const planAllowScope = "plan-allowed"

func planAllowKey(repo string, pull int, sha string) string {
	return strings.ToLower(repo) + "#" + strconv.Itoa(pull) + "@" + strings.ToLower(sha)
}

// planAllowed reports whether someone allowed a plan of this head.
func (b *Bot) planAllowed(ctx context.Context, repo string, pull int, sha string) (bool, error) {
	n, err := b.ledger.Count(ctx, planAllowScope, planAllowKey(repo, pull, sha))
	return n > 0, err
}

var shaPrefix = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// planCommand is `/rds plan [sha]` on a pull request whose head rdsbot did
// not write. Only a member of the command teams may allow it, and only for
// the commit they name: the head they read, never whatever is pushed after.
// Anyone else is ignored, as for other commands.
func (b *Bot) planCommand(ctx context.Context, d webhook.Delivery, ev *github.IssueCommentEvent) error {
	who := ev.GetComment().GetUser().GetLogin()
	pull := ev.GetIssue().GetNumber()
	if !isOrgMember(ev.GetComment().GetAuthorAssociation()) {
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
	teams := rc.config().Permissions.CommandTeams
	ok, err := inTeams(ctx, c, d.Repository, who, teams)
	if err != nil {
		return err
	}
	if !ok {
		b.log.InfoContext(ctx, "/rds plan of a foreign commit from someone who may not allow it: ignored",
			"repository", d.Repository, "pull", pull, "user", who)
		return nil
	}
	pr, err := c.GetPull(ctx, d.Repository, pull)
	if err != nil {
		return err
	}
	text, err := b.allowPlan(ctx, d.Repository, pr, who, CommandArg(ev.GetComment().GetBody()))
	if err != nil {
		return err
	}
	marker := forge.Marker("reply:" + strconv.FormatInt(ev.GetComment().GetID(), 10))
	_, _, err = c.UpsertComment(ctx, d.Repository, pull, marker, fmt.Sprintf("@%s: %s", who, text))
	return err
}

// allowPlan records that who allowed a plan of the pull request's head,
// when arg names it, and runs the plan; the reply says what happened.
func (b *Bot) allowPlan(ctx context.Context, repo string, pr *forge.PullRequest, who, arg string) (string, error) {
	head := pr.HeadSHA
	switch {
	case pr.State != "open":
		return fmt.Sprintf("#%d is not open: nothing was planned.", pr.Number), nil
	case arg == "":
		return fmt.Sprintf("a plan runs the commit's code with the runner's credentials, so rdsbot plans a commit it did not write only when it is named: "+
			"comment `/rds plan %s` to plan the head %s after reading it.", shortSHA(head), md.Code(shortSHA(head))), nil
	case !shaPrefix.MatchString(arg) || !strings.HasPrefix(strings.ToLower(head), strings.ToLower(arg)):
		return fmt.Sprintf("the head of #%d is %s, not %s: nothing was planned. Name the head you read.", pr.Number, md.Code(shortSHA(head)), md.Code(arg)), nil
	}
	if _, err := b.ledger.Bump(ctx, planAllowScope, planAllowKey(repo, pr.Number, head)); err != nil {
		return "", err
	}
	b.log.InfoContext(ctx, "plan of a foreign commit allowed", "repository", repo, "pull", pr.Number, "sha", head, "user", who)
	if err := b.enqueuePlan(ctx, repo, pr.Number, "/rds plan "+shortSHA(head)+" by "+who); err != nil {
		return "", err
	}
	return fmt.Sprintf("planning %s; the %s check on it follows.", md.Code(shortSHA(head)), md.Code(PlanCheck)), nil
}
