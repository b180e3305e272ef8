package githubfake

// routes is the endpoint table. Order matters only where a "{x*}" template
// could swallow a more specific one: specific routes come first.
func (f *Fake) routes() *router {
	rr := &router{}
	const repo = "/repos/{owner}/{repo}"

	// Apps (JWT) and installations.
	rr.add("GET", "/app", authJWT, f.getApp)
	rr.add("GET", "/app/installations", authJWT, f.listInstallations)
	rr.add("GET", "/app/installations/{installation_id}", authJWT, f.getInstallation)
	rr.add("POST", "/app/installations/{installation_id}/access_tokens", authJWT, f.createInstallationToken)
	rr.add("GET", repo+"/installation", authJWT, f.getRepoInstallation)
	rr.add("GET", "/orgs/{org}/installation", authJWT, f.getOrgInstallation)
	rr.add("GET", "/users/{username}/installation", authJWT, f.getUserInstallation)
	rr.add("GET", "/app/hook/deliveries", authJWT, f.listDeliveries)
	rr.add("GET", "/app/hook/deliveries/{delivery_id}", authJWT, f.getDelivery)
	rr.add("POST", "/app/hook/deliveries/{delivery_id}/attempts", authJWT, f.redeliverDelivery)
	rr.add("GET", "/installation/repositories", authToken, f.listInstallationRepos)
	rr.add("GET", "/rate_limit", authToken, f.getRateLimit)

	// Repositories, contents and commits.
	rr.add("GET", repo, authToken, f.getRepo)
	rr.add("GET", repo+"/branches/{branch*}/protection/required_status_checks", authToken, f.getRequiredStatusChecks)
	rr.add("GET", repo+"/branches/{branch*}/protection", authToken, f.getProtection)
	rr.add("PUT", repo+"/branches/{branch*}/protection", authToken, f.putProtection)
	rr.add("DELETE", repo+"/branches/{branch*}/protection", authToken, f.deleteProtection)
	rr.add("GET", repo+"/branches/{branch*}", authToken, f.getBranch)
	rr.add("GET", repo+"/rules/branches/{branch*}", authToken, f.getBranchRules)
	rr.add("GET", repo+"/rulesets", authToken, f.listRulesets)
	rr.add("POST", repo+"/rulesets", authToken, f.createRuleset)
	rr.add("GET", repo+"/rulesets/{ruleset_id}", authToken, f.getRuleset)
	rr.add("GET", repo+"/contents/{path*}", authToken, f.getContents)
	rr.add("GET", repo+"/contents", authToken, f.getContents)
	rr.add("PUT", repo+"/contents/{path*}", authToken, f.putContents)
	rr.add("GET", repo+"/commits", authToken, f.listCommits)
	rr.add("GET", repo+"/commits/{ref*}/check-runs", authToken, f.listCheckRunsForRef)
	rr.add("GET", repo+"/commits/{ref*}/statuses", authToken, f.listStatuses)
	rr.add("GET", repo+"/commits/{ref*}/status", authToken, f.getCombinedStatus)
	rr.add("GET", repo+"/commits/{commit_sha}/pulls", authToken, f.listCommitPulls)
	rr.add("GET", repo+"/commits/{ref*}", authToken, f.getRepoCommit)
	rr.add("GET", repo+"/compare/{basehead*}", authToken, f.compareCommits)

	// Git data.
	rr.add("GET", repo+"/git/ref/{ref*}", authToken, f.getRef)
	rr.add("GET", repo+"/git/matching-refs/{ref*}", authToken, f.listMatchingRefs)
	rr.add("GET", repo+"/git/refs/{ref*}", authToken, f.getRef)
	rr.add("POST", repo+"/git/refs", authToken, f.createRef)
	rr.add("PATCH", repo+"/git/refs/{ref*}", authToken, f.updateRef)
	rr.add("DELETE", repo+"/git/refs/{ref*}", authToken, f.deleteRef)
	rr.add("POST", repo+"/git/blobs", authToken, f.createBlob)
	rr.add("GET", repo+"/git/blobs/{file_sha}", authToken, f.getBlob)
	rr.add("POST", repo+"/git/trees", authToken, f.createTree)
	rr.add("GET", repo+"/git/trees/{tree_sha}", authToken, f.getTree)
	rr.add("POST", repo+"/git/commits", authToken, f.createCommit)
	rr.add("GET", repo+"/git/commits/{commit_sha}", authToken, f.getGitCommit)

	// Issues, comments, labels, events.
	rr.add("GET", repo+"/issues", authToken, f.listIssues)
	rr.add("POST", repo+"/issues", authToken, f.createIssue)
	rr.add("GET", repo+"/issues/comments/{comment_id}", authToken, f.getComment)
	rr.add("PATCH", repo+"/issues/comments/{comment_id}", authToken, f.editComment)
	rr.add("GET", repo+"/issues/{issue_number}", authToken, f.getIssue)
	rr.add("PATCH", repo+"/issues/{issue_number}", authToken, f.editIssue)
	rr.add("GET", repo+"/issues/{issue_number}/comments", authToken, f.listComments)
	rr.add("POST", repo+"/issues/{issue_number}/comments", authToken, f.createComment)
	rr.add("GET", repo+"/issues/{issue_number}/labels", authToken, f.listIssueLabels)
	rr.add("POST", repo+"/issues/{issue_number}/labels", authToken, f.addIssueLabels)
	rr.add("PUT", repo+"/issues/{issue_number}/labels", authToken, f.replaceIssueLabels)
	rr.add("DELETE", repo+"/issues/{issue_number}/labels/{name}", authToken, f.removeIssueLabel)
	rr.add("GET", repo+"/issues/{issue_number}/events", authToken, f.listIssueEvents)
	rr.add("GET", repo+"/issues/{issue_number}/timeline", authToken, f.listIssueEvents)
	rr.add("GET", repo+"/labels", authToken, f.listLabels)
	rr.add("POST", repo+"/labels", authToken, f.createLabel)
	rr.add("GET", repo+"/labels/{name}", authToken, f.getLabel)

	// Pull requests and reviews.
	rr.add("GET", repo+"/pulls", authToken, f.listPulls)
	rr.add("POST", repo+"/pulls", authToken, f.createPull)
	rr.add("GET", repo+"/pulls/{pull_number}", authToken, f.getPull)
	rr.add("PATCH", repo+"/pulls/{pull_number}", authToken, f.updatePull)
	rr.add("GET", repo+"/pulls/{pull_number}/files", authToken, f.listPullFiles)
	rr.add("GET", repo+"/pulls/{pull_number}/commits", authToken, f.listPullCommits)
	rr.add("GET", repo+"/pulls/{pull_number}/merge", authToken, f.isPullMerged)
	rr.add("PUT", repo+"/pulls/{pull_number}/merge", authToken, f.mergePullHandler)
	rr.add("GET", repo+"/pulls/{pull_number}/reviews", authToken, f.listReviews)
	rr.add("POST", repo+"/pulls/{pull_number}/reviews", authToken, f.createReview)
	rr.add("GET", repo+"/pulls/{pull_number}/reviews/{review_id}", authToken, f.getReview)
	rr.add("PUT", repo+"/pulls/{pull_number}/reviews/{review_id}", authToken, f.updateReview)
	rr.add("PUT", repo+"/pulls/{pull_number}/reviews/{review_id}/dismissals", authToken, f.dismissReview)
	rr.add("GET", repo+"/pulls/{pull_number}/requested_reviewers", authToken, f.listRequestedReviewers)
	rr.add("POST", repo+"/pulls/{pull_number}/requested_reviewers", authToken, f.requestReviewers)

	// Checks and statuses.
	rr.add("POST", repo+"/check-runs", authToken, f.createCheckRun)
	rr.add("GET", repo+"/check-runs/{check_run_id}", authToken, f.getCheckRun)
	rr.add("PATCH", repo+"/check-runs/{check_run_id}", authToken, f.updateCheckRun)
	rr.add("POST", repo+"/statuses/{sha}", authToken, f.createStatus)

	// Teams.
	rr.add("GET", "/orgs/{org}/teams/{team_slug}", authToken, f.getTeam)
	rr.add("GET", "/orgs/{org}/teams/{team_slug}/members", authToken, f.listTeamMembers)
	rr.add("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", authToken, f.getTeamMembership)
	rr.add("PUT", "/orgs/{org}/teams/{team_slug}/memberships/{username}", authToken, f.putTeamMembership)
	rr.add("DELETE", "/orgs/{org}/teams/{team_slug}/memberships/{username}", authToken, f.deleteTeamMembership)
	rr.add("GET", "/orgs/{org}/teams/{team_slug}/teams", authToken, f.listChildTeams)

	// Actions and dispatches.
	rr.add("GET", repo+"/actions/workflows", authToken, f.listWorkflows)
	rr.add("GET", repo+"/actions/workflows/{workflow_id}", authToken, f.getWorkflow)
	rr.add("POST", repo+"/actions/workflows/{workflow_id}/dispatches", authToken, f.dispatchWorkflow)
	rr.add("GET", repo+"/actions/workflows/{workflow_id}/runs", authToken, f.listRuns)
	rr.add("GET", repo+"/actions/runs", authToken, f.listRuns)
	rr.add("GET", repo+"/actions/runs/{run_id}", authToken, f.getRun)
	rr.add("POST", repo+"/actions/runs/{run_id}/rerun", authToken, f.rerunRun(false))
	rr.add("POST", repo+"/actions/runs/{run_id}/rerun-failed-jobs", authToken, f.rerunRun(true))
	rr.add("POST", repo+"/dispatches", authToken, f.repositoryDispatch)
	return rr
}
