package bot

import (
	"context"
	"fmt"

	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"github.com/rdsbot/rdsbot/pkg/md"
)

// The request job's side of the gate: it writes the approval table the
// gate last recorded into the pull request body (through the plan) and the
// status comment, and takes the request's approval state and merge-time
// verdict from the gate, so the two jobs never undo each other's writes.

// approvalTable is the last table the gate recorded for the request's open
// pull request on branch ("" when none).
func (j *requestJob) approvalTable(ctx context.Context, pulls []*forge.PullRequest, branch string) (string, error) {
	for _, pr := range pulls {
		if pr.Head == branch && pr.State == "open" {
			a, ok, err := j.b.approvalOf(ctx, j.repo, pr.Number)
			if err != nil || !ok {
				return "", err
			}
			return a.Table, nil
		}
	}
	return "", nil
}

// gateStatus sets the status from the gate's last evaluation of the pull
// request, when there is one: approved or waiting, with its table.
func (j *requestJob) gateStatus(ctx context.Context, pull int) error {
	a, ok, err := j.b.approvalOf(ctx, j.repo, pull)
	if err != nil || !ok {
		return err
	}
	j.view.ApprovalTable = a.Table
	if a.Satisfied {
		j.view.Status = lifecycle.For(lifecycle.ReadyToMerge, "Every approval it needs is given on its current content: it is ready to merge.")
	} else {
		j.view.Status = lifecycle.For(lifecycle.WaitingForApproval, "The table below says who must approve what; the rdsbot/approval check turns green when it is complete.")
	}
	return nil
}

// mergeStatus says what the merge-time re-check found on a merged pull
// request: merged past the check (nothing will be applied), or proceeding
// on break-glass or in warn mode.
func (j *requestJob) mergeStatus(ctx context.Context, pull int) error {
	m, ok, err := j.b.ledger.MergeCheckOf(ctx, j.repo, pull)
	if err != nil || !ok {
		return err
	}
	switch {
	case !m.Proceed:
		j.view.Status = lifecycle.For(lifecycle.MergedWithoutApproval, fmt.Sprintf("Pull request #%d was %s", pull, md.Text(m.Reason)))
		j.view.Status.Action = "Ask the approvers to approve the merged change on a new request, or a break-glass group to add the break-glass label to the pull request."
	case m.BreakGlass:
		j.view.Notes = append(j.view.Notes, "⚠️ "+md.Text(fmt.Sprintf("Pull request #%d was %s", pull, m.Reason)))
	case m.Warned:
		j.view.Notes = append(j.view.Notes, "⚠️ "+md.Text(fmt.Sprintf("Pull request #%d was %s", pull, m.Reason)))
	}
	return nil
}
