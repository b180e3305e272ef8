// Package forge is rdsbot's only GitHub adapter, on go-github v60 and
// ghinstallation. The bot calls it for everything GitHub: snapshots of the
// managed repository, the pull request of a request, issues, labels,
// comments, check runs, team membership and workflow dispatches.
//
// # Clients
//
// An App (NewApp) authenticates with its JWT and hands out one Client per
// installation (App.Installation, App.ForRepo), cached for the App's life;
// ghinstallation renews installation tokens. Config.BaseURL selects
// github.com, GitHub Enterprise Server or githubfake. Each installation
// client sends its requests through, from the top:
//
//	go-github -> ETag cache -> ghinstallation (token) -> pacer, retries, metrics -> HTTP
//
// The ETag cache always revalidates (If-None-Match; a 304 is free of the
// primary budget) and never answers from memory alone, so refs and pull
// requests are always current. Retries live below go-github, so go-github
// never records a failure that was retried and never starts refusing
// requests locally because of one.
//
// palantir/go-githubapp v0.24.1 was considered and not used: its caching
// client creator is ghinstallation plus gregjones/httpcache (unmaintained;
// its MemoryCache is unbounded; "always validate" works by rewriting a
// max-age it finds in Cache-Control), and importing it would add at least
// eight modules to go.mod (httpcache, golang-lru, zerolog, go-metrics,
// githubv4, oauth2, pkg/errors, go-cache) for what is here about 150 lines:
// a bounded cache that always revalidates, and a client per installation.
//
// # Snapshots
//
// Client.Snapshot returns the repository at a commit as an fs.FS: one
// recursive tree listing per commit, file contents fetched lazily by blob
// id. Both are immutable and cached, so planning again on the same base
// costs no calls, "not found" costs none, and after the base moves only the
// listing and the files that changed are fetched.
//
// # The commit protocol
//
// Client.Propose turns a request into its pull request on a deterministic
// branch (gitops.Plan.Branch):
//
//  1. Read the base branch's head (a 304 when it has not moved), snapshot it
//     and call the plan function on the snapshot.
//  2. Read the pull request branch. forge computes locally, with git's
//     object format, the id of the tree the change set gives on the base.
//     When the branch head has that tree and the base among its parents, the
//     branch already holds the request: nothing is written. So a retried job
//     or a replayed webhook makes no commit, no ref update, no edit.
//  3. When the branch head is not the bot's (its author is not the App's
//     bot account; the committer is not checked, because GitHub names itself
//     committer of the commits it signs for Apps) and does not hold the
//     change set, Propose stops
//     with ErrBranchNotOurs: the bot explains in a comment instead of
//     overwriting a person's commit.
//  4. Otherwise one commit is made through the Git Data API: a tree with
//     every changed file inline on the base's tree, a commit whose first
//     parent is the base head and, when the branch exists, whose second
//     parent is the branch's current head. The branch is then created
//     (POST refs) or moved with force=false (PATCH refs). Because the old
//     head is a parent, the move is a fast-forward: GitHub applies it only if
//     the branch is still where forge read it. That is a real
//     compare-and-swap, which force=true (GitHub has no expected-old-sha
//     parameter) could never be. The pull request's diff against the base is
//     exactly the change set, since the first parent is the base head.
//  5. A lost compare-and-swap (the branch moved, or another replica created
//     it: 422) starts again from 1: the base and the branch are re-read and
//     the request re-planned, at most Config.ProposeAttempts times
//     (ErrBaseMoved after that). A base that moved since the last proposal
//     is simply the new base of the next commit; nothing is ever forced.
//  6. The pull request is opened, or its title, body and base are updated
//     where they differ. A pull request a person closed is left closed by a
//     replay, and reopened only when the request changed (a new commit).
//  7. Labels: the plan's labels the pull request lacks are added, after
//     creating missing repository labels with a colour (Config.LabelColors).
//     Labels anyone else added stay, except the bot's own managed labels
//     (Proposal.Managed: size, risk, environment), which are reconciled:
//     a managed label the plan no longer lists is removed.
//
// A new request on a base already snapshotted costs 7 calls: 2 reads (the
// base head, usually a 304, and the branch probe, a 404) and 5 writes (tree,
// commit, ref, pull request, labels); 6 points of the primary budget. The
// branch probe is the price of replays that write nothing; a replay costs
// 3 reads (base, branch, pull request) and, once they are 304s, no points.
// BenchmarkPropose reports these per request.
//
// # Retries, duplicates and pacing
//
// Requests are retried with exponential backoff and jitter after 5xx,
// timeouts and connection failures when repeating them cannot duplicate
// anything: reads, PATCH/PUT/DELETE, git objects (content-addressed), refs
// and pull requests (a duplicate is refused with 422, which forge reads as
// "already there"), labels. Creating an issue, a comment or a check run,
// merging and dispatching a workflow are not repeated blindly: after an
// uncertain failure forge looks for the result first, by the hidden marker
// <!-- rdsbot:<kind> --> (UpsertComment, CreateIssue with a Marker), by
// name and head commit (SetCheck) or by the pull request's state
// (MergePull); a dispatch reports ErrUncertain. Rate-limit refusals prove
// nothing was done and are always retried: a secondary limit waits for
// Retry-After and holds every write of the installation back meanwhile.
// A pacer keeps content-creating requests under Config.Pacing (GitHub's 80
// a minute and 500 an hour by default).
//
// # Metrics and errors
//
// Metrics counts every request sent (each attempt) by endpoint, the route
// template as in GitHub's docs ("POST /repos/{owner}/{repo}/git/refs"), and
// outcome (2xx, 304, 4xx, 5xx, secondary, primary, error), plus writes,
// primary points, retries, pacer waits and the last X-RateLimit-* state per
// installation. Errors are wrapped with the operation ("forge: ...: %w"),
// carry an *APIError when GitHub answered, and match the sentinels
// (ErrNotFound, ErrConflict, ErrRefExists, ErrRefMoved, ErrBranchNotOurs,
// ErrRateLimited, ErrUncertain, ...) with errors.Is.
package forge
