// Package bot joins the pieces of rdsbot into the GitHub App's behaviour:
// webhook deliveries become request jobs, request jobs turn a request issue
// (an issue form, or one the bot opened for a dispatch) into a pull request
// through the planner, and one status comment on the issue follows the
// request through its phases.
//
// The approval gate (gate*.go, on_review.go, on_merge_group.go,
// on_membership.go) runs one job per pull request (key "pull/<n>"): it
// evaluates pkg/policy on the pull request's facts and content digest, and
// writes the rdsbot/approval and rdsbot/validate check runs, removes
// approval labels that grant nothing, and keeps the approval table in the
// pull request body and the request's status. Bot.MergeCheck is the
// merge-time re-check for the apply pipeline.
//
// The plan check (plan_check.go) runs `terraform plan` through the local
// planner in each root a pull request touches and reports it as
// rdsbot/plan on the commit it planned. A plan runs code from the commit,
// so rdsbot plans by itself only its own request pull requests at a head
// it wrote (the ledger's commits); any other head gets a neutral "not
// planned" check until a member of the command teams names that exact
// commit with `/rds plan <sha>` (plan_command.go).
//
// With the actions runner, workflow_run completed deliveries
// (on_workflow_run.go) wake the rollout that follows the run, which reads
// the run from GitHub itself. `/rds retry` on a failed actions apply re-runs
// the failed jobs of the same run (the next run_attempt; a run GitHub will
// no longer re-run fails the apply again, saying so) rather than
// dispatching another; and when a run of a failed apply completes with
// success (a person re-ran it in GitHub, or the bot stopped following it at
// apply.actions.timeout), the rollout resumes, finds that run by its key
// and carries the requests to active. A re-run that fails changes nothing.
//
// The rendering and parsing here (status comments, request issue bodies,
// commands) are pure; the handlers do their I/O through pkg/forge only.
package bot
