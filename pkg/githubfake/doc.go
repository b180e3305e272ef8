// Package githubfake is an in-memory GitHub that speaks GitHub's REST API and
// webhooks over real HTTP, for tests and for `rdsbot sandbox`.
//
// The bot talks to it through the same go-github client and ghinstallation
// transport it uses in production, so it cannot tell the difference. The fake
// holds organisations (owners, members, invitations), nested teams with
// active and pending memberships, users with roles on repositories,
// repositories with real git objects (ids computed exactly like git), refs,
// issues with their event log, comments, labels, pull requests, review
// requests, reviews, check runs, commit statuses, branch protection,
// rulesets, merge queues, workflows and runs, and one or more GitHub Apps
// with installations.
//
// Use from Go tests (see Example):
//
//	fake := githubfake.New(githubfake.Options{WebhookSecret: secret, WebhookURLs: []string{hookURL}})
//	url, _ := fake.Start()                  // or ListenAndServe(addr), or httptest.NewServer(fake)+SetBaseURL
//	fake.AddTeam("acme", "dba", "dana")      // seed: orgs, teams, users, repos, Apps, installations
//	fake.AddRepo("acme/infra", files)
//	app, _ := fake.NewApp("rdsbot", "acme")  // id + RSA key (PEM for ghinstallation)
//	inst, _ := fake.Install(app.ID, "acme")
//	fake.As("alice").OpenIssue(...)         // act as users: the same webhooks as the UI
//	fake.ProtectBranch(...), AddRuleset(...) // required checks pinned to an App, merge queue
//	fake.PostCheckRun(appID, ...)           // act as another App
//	fake.Quiesce(5 * time.Second)           // every webhook delivered and answered
//	fake.PullRequests("acme/infra")         // inspect state, fake.Calls() for API-call counts
//
// go-github clients use WithEnterpriseURLs(url+"/", url+"/") (the API is
// served under /api/v3 and at the root); ghinstallation uses BaseURL url+"/api/v3".
//
// Files:
//
//	fake.go           Fake, Options, New, Start, ListenAndServe, Close, the clock
//	router.go         path templates ("{ref*}" spans segments), per-route call counts
//	routes.go         the endpoint table
//	middleware.go     auth, rate limits, faults, ETag/304, headers, pagination, errors
//	auth.go           App JWT (RS256) checks, installation and user tokens, visibility
//	limits.go         primary and secondary rate limits, injected faults
//	store.go          the state: orgs, teams, users, Apps, repos and what they hold
//	git.go            git objects with git's ids, trees by path, history, merge base
//	merge.go          three-way file-level merge, tree diffs and unified patches
//	refs.go           moving a ref: push and pull_request synchronize
//	issues.go         issue, comment and label operations (shared by REST and test API)
//	pulls.go          pull request operations: mergeability, merge, reviews
//	rebase.go         rebase merges (commits replayed, refused when unsafe) and the allowed merge methods
//	permissions.go    repository roles (read .. admin), organisation owners
//	protection.go     branch protection, rulesets, required checks and their sources, merge and push refusals
//	mergequeue.go     merge queues: groups on gh-readonly-queue branches, merge_group, merging, dequeuing
//	teams.go          nested teams, pending memberships, membership/organization/team webhooks
//	workflow.go       workflow_dispatch inputs read from workflow YAML, dispatch checks
//	issueform.go      issue forms rendered into bodies as GitHub renders them
//	shapes*.go        GitHub's JSON shapes (REST and webhook forms)
//	handlers_*.go     the REST endpoints, grouped as GitHub's docs group them
//	events.go         the webhook payloads each state change emits
//	webhooks.go       signed, ordered, asynchronous delivery; delivery log, redelivery
//	seed.go           test API: orgs, teams, users, repositories, Apps, installations
//	actor.go          test API: acting as a user (issues, labels, pushes, reviews, merges, dispatches)
//	actor_gate.go     test API: reviews on a commit, review requests, drafts, statuses, check runs as an App, the merge queue
//	inspect.go        test API: state, events, deliveries, faults, quiescence, call counts
//
// Responses and webhook payloads are validated in tests against a subset of
// GitHub's published OpenAPI description and webhook schemas kept in
// testdata/ (regenerate with `make githubfake-schemas`).
//
// # Where the fake differs from GitHub
//
// Deliberately, for tests:
//
//   - Any account has the write role on every repository unless
//     SetPermission says otherwise (GitHub's default is an organisation's
//     base permission, usually read); the owner and organisation owners
//     (AddOrgOwner) are admins. Roles are enforced: labels need triage;
//     pushes, statuses, merges, dismissals and enqueuing need write; branch
//     protection and rulesets need admin.
//   - Seeding (AddTeam, SetTeamParent, AddPendingTeamMember, ProtectBranch,
//     AddRuleset, SetPermission) sends no webhooks; acting through an Actor
//     sends what GitHub sends.
//   - Every App has the same permissions (appPermissions: no administration,
//     members read, merge_queues read) and every webhook goes to every URL:
//     GitHub filters events by each App's subscription (check_run events,
//     for example, reach the App that owns the run).
//
// Not modelled, or modelled where GitHub documents too little:
//
//   - GitHub offers enqueuing only in the UI and through GraphQL
//     (enqueuePullRequest); the fake serves no GraphQL, so Actor.Enqueue and
//     Actor.Dequeue are the only ways in and out. A queue exists only through
//     a ruleset's merge_queue rule (not the classic protection setting).
//     Groups are merge commits (squash for SQUASH) on
//     gh-readonly-queue/<base>/pr-<n>-<sha they were built on>, made by
//     QueueBot ("github-merge-queue[bot]"), which also sends merge_group and
//     moves the base. min_entries_to_merge_wait_minutes is never waited; the
//     check timeout is applied when something happens (a check report,
//     Advance). A pull request leaving the queue because its head moved, it
//     closed, changed base or became a draft is dequeued with
//     UNKNOWN_REMOVAL_REASON: GitHub does not document the reason it sends.
//   - A required check open to any source is satisfied by the latest check
//     run of that name from any App, else the latest status of that context;
//     GitHub does not document its precedence when both exist. A check
//     pinned to an App counts only that App's check runs and the statuses
//     its installation set. Omitting app_id in PUT protection pins to the
//     App that last reported the check, as GitHub does.
//   - Rulesets: branch rulesets of the repository only, with the
//     required_status_checks and merge_queue rules and the admin role as the
//     only bypass actor; "evaluate" enforcement is stored, not reported.
//     Branch protection: required checks, strict, enforce_admins, required
//     approving reviews (writers' latest decisive review) and dismissal of
//     stale approvals, and "require a pull request" with no approvals
//     (RequirePullRequest); not code owners, restrictions, signatures, linear
//     history or conversation resolution. Apps are never bypass actors.
//   - PUT contents writes one file as a commit on the branch head, a
//     compare-and-swap on the file's blob sha (409 "<path> does not match
//     <sha>"; a new path ignores sha); a branch protection or ruleset
//     refusal is 409 with the rule's message (the ref API's is 422). DELETE
//     contents is not served.
//   - Refusal messages follow GitHub's where known (405 "Required status
//     check ... is expected.", "Changes must be made through the merge
//     queue", "Pull Request is still a draft", 409 "Head branch was
//     modified", 422 "Can not approve your own pull request"); for a branch
//     that is behind, a refused push, team management and enqueuing they are
//     the fake's own wording.
//   - The timeline lists the issue events only (no comments, reviews or
//     commits). check_run sends created and completed only; check suites are
//     not listed. team edited carries empty changes when a team's parent
//     changes (the webhook schema has no field for it). Reviews of closed or
//     draft pull requests are not refused.
package githubfake
