package bot

import (
	"context"
	"path"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// pushHandler takes pushes: to a request's branch (someone else's commit
// blocks the request), and to a base branch (request pull requests whose
// files the push touched are re-planned, so they never conflict).
type pushHandler struct{ b *Bot }

func (h *pushHandler) Events() []string { return []string{"push"} }

func (h *pushHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.PushEvent](d)
	if err != nil {
		return err
	}
	branch, ok := strings.CutPrefix(ev.GetRef(), "refs/heads/")
	if !ok {
		return nil
	}
	if n, ok, err := b.ledger.BranchIssue(ctx, d.Repository, branch); err != nil {
		return err
	} else if ok {
		// A push to a request's own branch: the bot's own (nothing to do)
		// or someone else's (the request job finds it and blocks).
		c, err := b.client(ctx, &d, d.Repository)
		if err != nil {
			return err
		}
		if strings.EqualFold(ev.GetSender().GetLogin(), c.BotLogin()) {
			return nil
		}
		return b.enqueue(ctx, d.Repository, n, "push to its branch by "+ev.GetSender().GetLogin())
	}
	if ev.GetDeleted() {
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
	touched, complete := pushedFiles(ev)
	if complete {
		if status, err := b.statusPush(ctx, d.Repository, ev, rc); err != nil || status {
			// The rollout's own status commits: it re-plans once, when the
			// rollout ends, not at every transition.
			return err
		}
	}
	if err := b.pushRollouts(ctx, d.Repository, branch, ev, rc, touched, complete); err != nil {
		return err
	}
	return b.replanPulls(ctx, c, rc, d.Repository, branch, touched, complete, "base "+branch+" moved")
}

// replanPulls has the request jobs of the App's open pull requests on
// branch re-plan them when they touch one of the touched files (all of
// them when complete is false), and runs their rdsbot/plan check again
// when the push changed a terraform input of an environment they change.
func (b *Bot) replanPulls(ctx context.Context, c *forge.Client, rc *repoContext, repo, branch string, touched map[string]bool, complete bool, reason string) error {
	pulls, err := c.ListPulls(ctx, repo, forge.PullFilter{State: "open", Base: branch, Labels: []string{rc.config().Labels.PullRequest}})
	if err != nil {
		return err
	}
	pushed := pushedEnvs(rc, touched)
	for _, pr := range pulls {
		if pr.User != c.BotLogin() {
			continue
		}
		n, recorded, ok, err := b.ledger.PullIssue(ctx, repo, pr.Number)
		if err != nil {
			return err
		}
		if !ok || recorded != pr.Head {
			continue
		}
		var files []forge.PullFile
		if complete {
			if files, err = c.PullFiles(ctx, repo, pr.Number); err != nil {
				return err
			}
		}
		if err := b.replanCheck(ctx, rc, repo, pr.Number, files, pushed, complete, reason); err != nil {
			return err
		}
		if complete {
			if !slices.ContainsFunc(files, func(f forge.PullFile) bool {
				return touched[f.Path] || (f.PreviousPath != "" && touched[f.PreviousPath])
			}) {
				continue
			}
		}
		// A pull request that still merges cleanly, and is not required to
		// be up to date, keeps its commit: re-planning it would cost a
		// commit, checks and comments (writes are GitHub's scarce budget)
		// and change nothing it merges. Unknown mergeability re-plans.
		full, err := c.GetPull(ctx, repo, pr.Number)
		if err != nil {
			return err
		}
		if cleanMerge(full) {
			b.log.DebugContext(ctx, "base moved; the pull request still merges cleanly", "repository", repo, "pull", pr.Number)
			continue
		}
		if err := b.enqueue(ctx, repo, n, reason); err != nil {
			return err
		}
	}
	return nil
}

// pushedEnvs are the environments whose terraform inputs a push changed.
func pushedEnvs(rc *repoContext, touched map[string]bool) map[string]bool {
	var files []forge.PullFile
	for p := range touched {
		files = append(files, forge.PullFile{Path: p})
	}
	out := map[string]bool{}
	for _, t := range planTargets(rc.config(), rc.planner.Schema.Request.Fields["environment"].Enum, files) {
		out[t.env] = true
	}
	return out
}

// replanCheck asks for a fresh rdsbot/plan of a pull request whose base
// moved in an environment it changes. Its head did not change, but its
// plan did: terraform plans against the environment's state, which takes
// in what the base applied, and the plan runs at the merge with the new
// base (planCommit), so it shows what merging would apply now. A push that
// changed no terraform input of those environments leaves the plan as it
// is; one whose files are not known (complete false) plans every pull
// request. A pull request that its request job rebuilds is planned again
// at its new head (coalesced with this one).
func (b *Bot) replanCheck(ctx context.Context, rc *repoContext, repo string, pull int, files []forge.PullFile, pushed map[string]bool, complete bool, reason string) error {
	if complete {
		changed := false
		for _, t := range planTargets(rc.config(), rc.planner.Schema.Request.Fields["environment"].Enum, files) {
			changed = changed || pushed[t.env]
		}
		if !changed {
			return nil
		}
	}
	return b.enqueuePlan(ctx, repo, pull, reason)
}

// statusPush reports whether every commit of a push is one of the App's
// status commits: written by the App (the ledger says so, not the author
// line) and changing only catalogs and audit trails.
func (b *Bot) statusPush(ctx context.Context, repo string, ev *github.PushEvent, rc *repoContext) (bool, error) {
	cfg := rc.config()
	for _, cm := range ev.Commits {
		if !strings.Contains(cm.GetMessage(), "[skip ci]") {
			return false, nil
		}
		for _, list := range [][]string{cm.Added, cm.Modified, cm.Removed} {
			for _, p := range list {
				_, isCatalog := matchTemplate(cfg.Catalog.Path, p)
				_, isContract := contractEnv(rc, p)
				if !isCatalog && !isContract && !(strings.HasPrefix(p, "governance/") && strings.HasSuffix(p, "/rds_provision_audit.csv")) {
					return false, nil
				}
			}
		}
		own, err := b.ledger.OwnCommit(ctx, repo, cm.GetID())
		if err != nil || !own {
			return false, err
		}
	}
	return len(ev.Commits) > 0, nil
}

// pushedFiles lists the paths a push changed. complete is false when the
// payload cannot tell (a forced push, or more commits than GitHub lists).
func pushedFiles(ev *github.PushEvent) (map[string]bool, bool) {
	const listed = 20 // GitHub puts at most 20 commits in a push payload
	if ev.GetForced() || len(ev.Commits) == 0 || len(ev.Commits) >= listed {
		return nil, false
	}
	out := map[string]bool{}
	for _, cm := range ev.Commits {
		for _, list := range [][]string{cm.Added, cm.Modified, cm.Removed} {
			for _, p := range list {
				out[p] = true
			}
		}
	}
	return out, true
}

// cleanMerge reports whether GitHub says a pull request merges into its
// base without conflict and without needing to be brought up to date.
func cleanMerge(pr *forge.PullRequest) bool {
	if pr.Mergeable == nil || !*pr.Mergeable {
		return false
	}
	switch pr.MergeableState {
	case "clean", "unstable", "blocked", "has_hooks":
		return true
	}
	return false
}

// contractEnv is the environment of a request contract's path, in the
// contract-driven mode.
func contractEnv(rc *repoContext, p string) (string, bool) {
	cfg := rc.config()
	if !cfg.ContractMode() {
		return "", false
	}
	for _, env := range rc.planner.Schema.Request.Fields["environment"].Enum {
		pat := cfg.ContractFiles(env)
		if _, ok := pat.Match(path.Base(p)); ok && path.Dir(p) == pat.Dir {
			return env, true
		}
	}
	return "", false
}
