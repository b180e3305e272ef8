// Package policy decides, without any I/O, whether a request pull request is
// approved, what is missing, and what the bot must do about labels,
// break-glass and retries.
//
// The bot gathers the facts (reviews, labels with the issue event that added
// each, team memberships, commit authors, checks carrying rdsbot's names)
// behind the Facts interface, computes the pull request's content digest
// with package policy/digest, and calls
//
//	p, err := policy.New(cfg, schemas)           // once per configuration
//	res, err := p.Evaluate(ctx, input, facts)    // every evaluation
//	res.Check()                                  // the rdsbot/approval check run
//	res.RemoveLabels, policy.RenderRemovals(...) // labels to remove, one comment
//	res.Merge()                                  // the merge-time re-check
//	res.MayRetry(ctx, facts, actor)              // /rds retry
//	policy.Render(res)                           // the approval table
//
// # What is required
//
// A create request takes the first approval_routing rule of the request
// schema that matches its fields, else the databases-rds service-class rule;
// each reviewer group it names needs an approving review by an active member
// of the group's team (teams in rdsbot.yaml). Every label_requirements entry
// that matches (large and xlarge: platform-approval) needs its label, added by
// a member of its group. A decommission takes the schema's decommission
// block: its reviewer groups (platform, security, database) and the
// rds-allow-delete label. Where routing names no group and the environment is
// not one of approvals.self_serve_environments, one approving review by a
// member of approvals.human_approval_groups is required.
//
// # What counts
//
// A review counts when it is its author's latest review that carries a state
// (APPROVED, CHANGES_REQUESTED or a dismissal; comments and pending reviews
// change nothing, as on GitHub; states are compared case-insensitively), it
// is APPROVED and not dismissed, it was given on this pull request, its
// author is an active member of the team (pending invitations do not count;
// membership is read at evaluation, so someone removed from the team since
// no longer counts), and its author is none of: a bot (type Bot, a [bot]
// login, the App), a requester, the pull request's author, the author or
// committer of any commit in it. Each reviewer group needs a different
// person: one approver never counts for two groups.
//
// An approval label counts when it is on the pull request now and the actor of
// its latest labeled event passes the same checks for the label's group.
//
// Approvals bind to content: a review counts only if the digest rdsbot
// recorded for its commit is the current digest, a label only if the digest
// when it was added is. A re-plan by the bot on a moved base keeps the
// digest; a human push, an edited request, a retarget to another base branch
// or a merge queue group in which another pull request changed the same keys
// changes it. An unknown digest counts as other content.
//
// # Decisions where the issue is silent
//
//   - CHANGES_REQUESTED blocks: an author's latest review with changes
//     requested, by an active member of any team the request needs, holds the
//     check until they approve or the review is dismissed, whatever the
//     digest. Requests for changes by bots or non-members do not block.
//   - A commit whose author GitHub cannot link to an account blocks the
//     policy: nobody could be shown not to have written it.
//   - Approval labels that grant nothing (added by a bot, a requester, a
//     commit author, a non-member or a pending member, by an account with no
//     labeled event, or before the content last changed) are listed for
//     removal in every mode; a stale label must be added again.
//   - Break-glass (approvals.break_glass) never turns the check green: the
//     check stays required, so an emergency takes an admin merge past it plus
//     a valid break-glass label, which lets the merge-time re-check proceed
//     (MergeDecision.BreakGlass, to be audited). The label is valid when added
//     on the merged content by an active member of a break-glass group who is
//     not a requester, author, commit author, bot, or any counted approver
//     (reviews and labels alike: "the approver whose approval completed the
//     policy" is read as every approval the policy counted).
//   - Warn mode reports and passes, and a merge without approval in a warn
//     environment is applied (MergeDecision.Warned).
//   - /rds retry outside the self-serve environments takes an active member
//     of a team the request needs or of a break-glass group, who is neither a
//     requester nor a counted approver.
//   - Statuses and check runs carrying rdsbot's names from another source are
//     reported in the table and never count.
package policy
