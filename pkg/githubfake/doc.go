// Package githubfake is an in-memory GitHub that speaks GitHub's REST API and
// webhooks over real HTTP, for tests and for `rdsbot sandbox`.
//
// The bot talks to it through the same go-github client and ghinstallation
// transport it uses in production, so it cannot tell the difference. The fake
// holds organisations, teams, users, repositories with real git objects (ids
// computed exactly like git), refs, issues, comments, labels, pull requests,
// reviews, check runs, commit statuses, workflows and runs, and one or more
// GitHub Apps with installations.
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
//	workflow.go       workflow_dispatch inputs read from workflow YAML, dispatch checks
//	issueform.go      issue forms rendered into bodies as GitHub renders them
//	shapes*.go        GitHub's JSON shapes (REST and webhook forms)
//	handlers_*.go     the REST endpoints, grouped as GitHub's docs group them
//	events.go         the webhook payloads each state change emits
//	webhooks.go       signed, ordered, asynchronous delivery; delivery log, redelivery
//	seed.go           test API: orgs, teams, users, repositories, Apps, installations
//	actor.go          test API: acting as a user (issues, labels, pushes, reviews, merges, dispatches)
//	inspect.go        test API: state, events, deliveries, faults, quiescence, call counts
//
// Responses and webhook payloads are validated in tests against a subset of
// GitHub's published OpenAPI description and webhook schemas kept in
// testdata/ (regenerate with internal/schemagen).
package githubfake
