// Package forge is rdsbot's only GitHub adapter, on go-github v60 and
// ghinstallation. The bot calls it for everything GitHub: snapshots of the
// managed repository, the pull request of a request, issues, labels,
// comments, check runs, team membership and workflow dispatches.
//
// # Clients
//
// An App (NewApp) authenticates with its JWT and hands out one Client per
// installation (App.Installation, App.ForRepo), the Config.MaxInstallations
// most recently used kept; ghinstallation renews installation tokens.
// Config.BaseURL selects github.com, GitHub Enterprise Server or githubfake.
// Each installation client sends its requests through, from the top:
//
//	go-github -> ETag cache -> ghinstallation (token) -> pacer, retries, metrics -> HTTP
//
// The ETag cache always revalidates (If-None-Match; a 304 is free of the
// primary budget) and never answers from memory alone, so refs and pull
// requests are always current. Retries live below go-github, so go-github
// never records a failure that was retried and never starts refusing
// requests locally because of one.
//
// # Memory
//
// Everything forge keeps is bounded, whoever sends the events: anyone can
// install a public App, open repositories with huge trees or thousands of
// labels, or review as thousands of accounts. The installation clients and
// the repository -> installation lookups are least-recently-used maps. The
// clients of an App share one set of caches, each under one bound however
// many installations there are: the ETag cache (Config.CacheBytes, keys,
// headers and bodies counted), tree listings and blobs (Config.SnapshotBytes),
// commits, team memberships (Config.TeamTTL, and a count) and known labels
// (only those asked about, for the most recently used repositories). Every
// key starts with the client's label, so a client only reads what GitHub
// showed to itself. The caches are hashicorp/golang-lru/v2's simplelru with
// a byte count on top (sizedLRU) where entries differ in size; its expirable
// cache is not used because it starts a goroutine per cache that never ends.
// Concurrent fetches of one tree, blob or commit share one request
// (golang.org/x/sync/singleflight) run on a context detached from the
// first caller (context.WithoutCancel, bounded by the retry policy's total),
// and each caller stops waiting when its own context ends: a caller that
// gives up never fails the others.
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
// id. Both are immutable and cached (see Memory), so planning again on the
// same base costs no calls, "not found" costs none, and after the base
// moves only the listing and the files that changed are fetched.
//
// # The commit protocol
//
// Client.Propose turns a request into its pull request on a deterministic
// branch (gitops.Plan.Branch). Which commits are the bot's is decided by
// the CommitLedger (Config.Ledger) alone: the SHAs the bot itself wrote,
// recorded durably. A commit's author and committer are text anyone who
// pushes can set, so they decide nothing.
//
//  1. Read the base branch's head (a 304 when it has not moved), snapshot it
//     and call the plan function on the snapshot.
//  2. Read the pull request branch. When its head is not in the ledger the
//     branch is not the bot's, whatever its commits claim, and Propose
//     stops: GitHub's compare of base and head lists the commits on it; if
//     the ledger knows none of them the branch was made by someone else
//     (*SquattedBranchError, ErrBranchSquatted); otherwise someone pushed to
//     the bot's branch (*ForeignChangeError, ErrForeignChange, naming the
//     files whose content against the merge base is not the plan's, every
//     path compared, and the names the foreign commits claim). Both match
//     ErrBranchNotOurs. The bot explains in a comment; it never keeps,
//     builds on or silently drops what they changed.
//  3. forge computes locally, with git's object format, the id of the tree
//     the change set gives on the base. When the bot's head has that tree
//     and the base among its parents, the branch already holds the request:
//     nothing is written. So a retried job or a replayed webhook makes no
//     commit, no ref update, no edit. With Proposal.KeepCurrent, a bot head
//     on an older base is also left alone when it changes, against the base
//     it was made on (its first parent), exactly the plan's files with
//     exactly the planned content and no other path: the pull request still
//     shows exactly the change set, and a new commit would only reset
//     reviews and checks.
//  4. Otherwise one commit is made through the Git Data API: a tree with
//     every changed file inline on the base's tree, a commit whose first
//     parent is the base head and, when the branch exists, whose second
//     parent is the branch's current head (always a bot commit, by 2). The
//     commit's SHA is recorded in the ledger before anything points at it
//     (a failed record stops here), so a crash between the two leaves a
//     recorded commit nothing uses, never an unrecorded bot commit on the
//     branch. The branch is then created (POST refs) or moved with
//     force=false (PATCH refs). Because the old head is a parent, the move
//     is a fast-forward: GitHub applies it only if the branch is still where
//     forge read it. That is a real compare-and-swap, which force=true
//     (GitHub has no expected-old-sha parameter) could never be. The pull
//     request's diff against the base is exactly the change set, since the
//     first parent is the base head and the tree is the base's plus the
//     plan.
//  5. A lost compare-and-swap (the branch moved, or another replica created
//     it: 422) starts again from 1: the base and the branch are re-read and
//     the request re-planned, at most Config.ProposeAttempts times
//     (ErrBaseMoved after that). A base that moved since the last proposal
//     is simply the new base of the next commit; nothing is ever forced.
//  6. The pull request is opened, or its title, body and base are updated
//     where they differ. Only pull requests the bot opened count (who opened
//     one is GitHub's fact): an open one from the branch that someone else
//     opened is a *SquattedBranchError, never edited or labelled. A pull
//     request a person closed is left closed by a replay, and reopened only
//     when the request changed (a new commit).
//  7. Labels: the plan's labels the pull request lacks are added, after
//     creating missing repository labels with a colour (Config.LabelColors).
//     Labels anyone else added stay, except the bot's own managed labels
//     (Proposal.Managed: size, risk, environment), which are reconciled:
//     a managed label the plan no longer lists is removed.
//
// The ledger must be durable and shared by every replica; without one
// (Config.Ledger nil) an App keeps a MemoryLedger and logs a warning: after
// a restart the bot's earlier branches count as someone else's, which
// blocks their requests (safe, not silent) until the branch is deleted.
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
// (MergePull); a dispatch reports ErrUncertain.
//
// Rate limits follow GitHub's advice and cost no attempt: a refusal proves
// nothing was done, so any request may repeat it, and RetryPolicy.MaxAttempts
// counts only the other failures. A refusal waits for Retry-After; else,
// with X-RateLimit-Remaining at 0, for X-RateLimit-Reset (a spent primary
// budget); else, for a secondary limit, a minute. Meanwhile every request
// of the installation is held back unsent, as it is as soon as a response
// reports the budget's last point spent. A pacer keeps content-creating
// requests under Config.Pacing (GitHub's 80 a minute and 500 an hour by
// default). All these waits together are bounded per request by
// RetryPolicy.MaxWait and by the context's deadline: a wait that would pass
// either is not begun, and the request fails at once with a
// *RateLimitError (ErrRateLimited) whose RetryAfter says when to try
// again, so a job layer can snooze the job instead of spending an attempt
// while GitHub says "wait".
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
// ErrForeignChange, ErrBranchSquatted, ErrRateLimited, ErrUncertain, ...)
// with errors.Is. Rate limits come as *RateLimitError, which implements
// interface{ RetryAfter() time.Duration }.
package forge
