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
// Files:
//
//	fake.go          Fake, Options, New, Start, ListenAndServe, Close
//	router.go        route table with GitHub's path templates, per-route call counts
//	middleware.go    auth, rate limits, ETags, injected faults around every handler
//	auth.go          App JWT (RS256) verification and installation/user tokens
//	limits.go        primary and secondary rate limits, faults
//	store.go         the state: orgs, teams, users, repos and what they hold
//	git.go           git objects (blob, tree, commit) with git's object ids
//	merge.go         merge base, three-way file-level merge, diff for PR files
//	shapes*.go       GitHub's JSON shapes for users, repos, issues, PRs, ...
//	handlers_*.go    the REST endpoints, grouped as GitHub's docs group them
//	workflow.go      workflow_dispatch input declarations read from workflow YAML
//	webhooks.go      signed, ordered, asynchronous webhook delivery and the delivery log
//	events.go        the webhook payloads each state change emits
//	testapi.go       seeding, acting as a user and inspecting state from Go tests
//
// Responses and webhook payloads are validated in tests against a subset of
// GitHub's published OpenAPI description and webhook schemas kept in
// testdata/ (regenerate with internal/schemagen).
package githubfake
