package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/policy"
)

// The rdsbot/plan check: one job per pull request (coalesced, so pushes
// that come while a plan waits or runs make one more plan, of the newest
// head) runs `terraform plan` at the head in each terraform root the pull
// request touches, and reports on the commit it planned.

// PlanCheck is the name of the plan check run.
const PlanCheck = "rdsbot/plan"

// QueuePlan is the queue of plan jobs: plans are slow, so they do not hold
// the workers of request and gate jobs.
const QueuePlan = "rdsbot_plan"

// planWorkers is how many plans run at once per process.
const planWorkers = 2

// PlanArgs are the arguments of the job that plans one pull request, or
// one merge group's head (Group and GroupRef: merge_group.head_sha and
// head_ref; Pull is 0).
type PlanArgs struct {
	Repo     string `json:"repo"`
	Pull     int    `json:"pull"`
	Group    string `json:"group,omitempty"`
	GroupRef string `json:"group_ref,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Kind implements river.JobArgs.
func (PlanArgs) Kind() string { return "rdsbot_plan" }

// CoalesceKey implements jobs.Coalesced.
func (a PlanArgs) CoalesceKey() string {
	if a.Group != "" {
		return a.Repo + "#plan/group/" + strings.ToLower(a.Group)
	}
	return a.Repo + "#plan/" + strconv.Itoa(a.Pull)
}

// InsertOpts implements river.JobArgsWithInsertOpts. A plan is only worth
// a few attempts: the next push or `/rds plan` asks again.
func (PlanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueuePlan, MaxAttempts: 5}
}

type planWorker struct {
	river.WorkerDefaults[PlanArgs]
	b *Bot
}

func (w *planWorker) Work(ctx context.Context, job *river.Job[PlanArgs]) error {
	return w.b.handlePlan(ctx, job.Args)
}

func (w *planWorker) NextRetry(job *river.Job[PlanArgs]) time.Time {
	return time.Now().Add(w.b.retry(job.Attempt))
}

// Timeout covers several environments' runs; each run has its own bound
// (apply.terraform.timeout).
func (w *planWorker) Timeout(*river.Job[PlanArgs]) time.Duration { return 2 * time.Hour }

// Discarded ends a check left in progress: the plan is not known.
func (w *planWorker) Discarded(ctx context.Context, job *river.Job[PlanArgs], _ error) error {
	c, err := w.b.client(ctx, nil, job.Args.Repo)
	if err != nil {
		return err
	}
	if job.Args.Group != "" {
		return w.b.groupPlanDiscarded(ctx, c, job.Args, job.Attempt, job.ID)
	}
	pr, err := c.GetPull(ctx, job.Args.Repo, job.Args.Pull)
	if err != nil || pr.State != "open" {
		return err
	}
	ch := forge.Check{Name: PlanCheck, HeadSHA: pr.HeadSHA, Status: policy.StatusCompleted, Conclusion: "failure",
		Title: "rdsbot could not run the plan",
		Summary: fmt.Sprintf("rdsbot gave up after %d attempts (job %d); the operators have the error in their logs. "+
			"The next push plans again; a request's requester can comment `/rds plan` to try now.", job.Attempt, job.ID)}
	_, err = c.SetCheck(ctx, job.Args.Repo, ch)
	return err
}

// enqueuePlan asks for a plan; a host whose rollout is off (no runner)
// plans nothing.
func (b *Bot) enqueuePlan(ctx context.Context, repo string, pull int, reason string) error {
	if b.rollout.Off {
		return nil
	}
	return b.queue.Enqueue(ctx, PlanArgs{Repo: repo, Pull: pull, Reason: reason})
}

// planActions are the pull_request actions that plan the head.
var planActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "ready_for_review": true}

// planTarget is one environment to plan and its roots, in configured order.
type planTarget struct {
	env   string
	roots []string
}

// planTargets maps changed files to what to plan: a file inside a root of
// apply.roots plans that root; another gated terraform input of an
// environment (its coupled tfvars) plans every root of it. The catalog and
// request contracts are no terraform input. known are the environments
// (empty: any).
func planTargets(cfg *config.Config, known []string, files []forge.PullFile) []planTarget {
	g := newGatePaths(cfg)
	touched := map[string]map[string]bool{} // env -> root ("" all)
	add := func(env, root string) {
		if len(known) > 0 && !slices.Contains(known, env) {
			return
		}
		if touched[env] == nil {
			touched[env] = map[string]bool{}
		}
		touched[env][root] = true
	}
	visit := func(p string) {
		if p == "" {
			return
		}
		inRoot := false
		for _, t := range cfg.Apply.Roots {
			for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
				if env, ok := matchTemplate(t, d); ok && env != "" && (len(known) == 0 || slices.Contains(known, env)) {
					add(env, d)
					inRoot = true
				}
			}
		}
		if inRoot || !g.covers(p) || !terraformInput(p) {
			return
		}
		if env := g.envOf(p); env != "" {
			add(env, "")
		}
	}
	for _, f := range files {
		visit(f.Path)
		visit(f.PreviousPath)
	}
	var out []planTarget
	for env, roots := range touched {
		t := planTarget{env: env}
		for _, r := range cfg.Apply.RootsFor(env) {
			if roots[r] || roots[""] {
				t.roots = append(t.roots, r)
			}
		}
		if len(t.roots) > 0 {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b planTarget) int { return strings.Compare(a.env, b.env) })
	return out
}

// terraformInput reports whether a file is read by terraform.
func terraformInput(p string) bool {
	return path.Ext(p) == ".tf" || path.Ext(p) == ".tfvars" || strings.HasSuffix(p, ".tfvars.json") || strings.HasSuffix(p, ".tf.json")
}

// planTrust says whether rdsbot plans a pull request's head: a plan runs
// code from the commit, so only a request pull request the App opened on
// its request's branch at a head the App wrote, or a head a member of the
// command teams named (`/rds plan <sha>`). issue is the request's issue;
// why says why not.
func (b *Bot) planTrust(ctx context.Context, c *forge.Client, repo string, pr *forge.PullRequest) (issue int, why string, err error) {
	n, branch, ok, err := b.ledger.PullIssue(ctx, repo, pr.Number)
	if err != nil {
		return 0, "", err
	}
	if ok && strings.EqualFold(pr.User, c.BotLogin()) && branch == pr.Head {
		own, err := b.ledger.OwnCommit(ctx, repo, pr.HeadSHA)
		if err != nil || own {
			return n, "", err
		}
		why = fmt.Sprintf("the head %s is not a commit rdsbot wrote", shortSHA(pr.HeadSHA))
	} else {
		n, why = 0, "rdsbot plans by itself only its own request branches"
	}
	allowed, err := b.planAllowed(ctx, repo, pr.Number, pr.HeadSHA)
	if err != nil || allowed {
		return n, "", err
	}
	return n, why, nil
}

// planResult is one environment's plan.
type planResult struct {
	env     string
	skipped bool
	out     *apply.Outcome
}

// handlePlan is the plan job of one pull request, or of a merge group's
// head (a.Group).
func (b *Bot) handlePlan(ctx context.Context, a PlanArgs) error {
	if a.Group != "" {
		return b.handleGroupPlan(ctx, a)
	}
	log := b.log.With("repository", a.Repo, "pull", a.Pull, "reason", a.Reason)
	c, err := b.client(ctx, nil, a.Repo)
	if err != nil {
		return err
	}
	pr, err := c.GetPull(ctx, a.Repo, a.Pull)
	if forge.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pr.State != "open" || pr.Merged {
		return nil
	}
	rc, err := b.loadRepo(ctx, c, a.Repo, b.maxAge)
	if err != nil {
		return err
	}
	cfg := rc.config()
	check := func(ch forge.Check) error {
		ch.Name, ch.HeadSHA = PlanCheck, pr.HeadSHA
		if _, err := c.SetCheck(ctx, a.Repo, ch); err != nil {
			return fmt.Errorf("set %s on %.12s: %w", PlanCheck, pr.HeadSHA, err)
		}
		return nil
	}
	cmp, err := c.Compare(ctx, a.Repo, pr.Base, pr.HeadSHA)
	if errors.Is(err, forge.ErrTooManyFiles) {
		return check(forge.Check{Conclusion: "failure", Title: "Too many files to plan",
			Summary: "This pull request changes more files than GitHub lists, so rdsbot cannot tell which terraform roots it changes."})
	}
	if err != nil {
		return err
	}
	targets := planTargets(cfg, rc.planner.Schema.Request.Fields["environment"].Enum, cmp.Files)
	if len(targets) == 0 {
		return check(forge.Check{Conclusion: policy.ConclusionOK, Title: "Nothing to plan",
			Summary: "This pull request changes no terraform input of an environment."})
	}
	issue, why, err := b.planTrust(ctx, c, a.Repo, pr)
	if err != nil {
		return err
	}
	if why != "" {
		sum := "Not planned: " + md.Text(why) + ". A plan runs the commit's code with the runner's credentials."
		if teams := cfg.Permissions.CommandTeams; len(teams) > 0 {
			sum += fmt.Sprintf(" A member of %s can comment %s to plan this commit.", md.Text(strings.Join(teams, " or ")), md.Code("/rds plan "+shortSHA(pr.HeadSHA)))
		}
		return check(forge.Check{Conclusion: "neutral", Title: "Not planned", Summary: sum})
	}
	at, note, err := b.planCommit(ctx, c, a.Repo, pr, cmp)
	if err != nil {
		return err
	}
	if at == "" {
		return check(forge.Check{Conclusion: "neutral", Title: "Not planned: the pull request does not merge", Summary: note})
	}
	var ids []string
	if issue > 0 {
		ids = []string{contract.RequestID(issue)}
	}
	return b.runPlans(ctx, c, rc, planRun{repo: a.Repo, ref: pr.Head, at: at, note: note, targets: targets, ids: ids,
		allow: func(env string) ([]string, error) { return b.planAllowDestroy(ctx, c, rc, a.Repo, issue, pr, env) }}, check, log)
}

// planCommit chooses the commit a pull request's plan runs at. terraform
// plans a tree against the environment's state, which holds what the base
// branch applied; what merging would apply is the merge result. While the
// head contains its base, that is the head. Once the base moved past it
// (another request merged and was applied), the head's tfvars lack what
// the base added, and a plan of the head would show those resources
// destroyed: the plan is then of GitHub's test merge commit of the pull
// request (merge_commit_sha, whose parents are the base's tip and the
// head; the base is trusted as the head is, it is what applies run). at
// is "" when the pull request does not merge (note says so); an error when
// GitHub has not computed the merge for the current base yet (the job
// tries again).
func (b *Bot) planCommit(ctx context.Context, c *forge.Client, repo string, pr *forge.PullRequest, cmp *forge.Comparison) (at, note string, err error) {
	if cmp.Status == "ahead" || cmp.Status == "identical" {
		return pr.HeadSHA, "", nil
	}
	switch {
	case pr.Mergeable == nil:
		return "", "", fmt.Errorf("plan #%d: GitHub has not computed its merge with %s yet", pr.Number, pr.Base)
	case !*pr.Mergeable || pr.MergeCommitSHA == "":
		return "", fmt.Sprintf("%s moved since %s and the pull request no longer merges into it, so what it would apply is not known. "+
			"rdsbot rebuilds its request pull requests on a moved base; the new head is planned.", md.Code(pr.Base), md.Code(shortSHA(pr.HeadSHA))), nil
	}
	parents, err := c.CommitParents(ctx, repo, pr.MergeCommitSHA)
	if err != nil {
		return "", "", err
	}
	if len(parents) != 2 || !strings.EqualFold(parents[1], pr.HeadSHA) || (pr.BaseSHA != "" && !strings.EqualFold(parents[0], pr.BaseSHA)) {
		return "", "", fmt.Errorf("plan #%d: GitHub's merge commit %.12s is not of the head %.12s on the base %.12s yet", pr.Number, pr.MergeCommitSHA, pr.HeadSHA, pr.BaseSHA)
	}
	return pr.MergeCommitSHA, fmt.Sprintf("%s moved since this head, so the plan is of the merge of %s into %s at %s (GitHub's test merge %s): what merging would apply.\n\n",
		md.Code(pr.Base), md.Code(shortSHA(pr.HeadSHA)), md.Code(pr.Base), md.Code(shortSHA(parents[0])), md.Code(shortSHA(pr.MergeCommitSHA))), nil
}

// planRun is one plan job's work: the commit terraform runs at (the
// check's writer knows the commit it is written on).
type planRun struct {
	repo, ref string
	at        string
	note      string // markdown put before the summary
	targets   []planTarget
	ids       []string                           // the requests the commit carries
	allow     func(env string) ([]string, error) // protected addresses the plan may destroy
}

// runPlans plans each target at run.at through the environment's runner
// and writes the check.
func (b *Bot) runPlans(ctx context.Context, c *forge.Client, rc *repoContext, run planRun, check func(forge.Check) error, log *slog.Logger) error {
	set := b.runners(run.repo, rc.config().Apply)
	// A plan that takes a while shows as in progress; a quick one is
	// written once, finished (each write counts against GitHub's limits).
	started := make(chan error, 1)
	slow := time.AfterFunc(planInProgressAfter, func() {
		started <- check(forge.Check{Status: policy.StatusInProgress, Title: "Planning " + envList(run.targets),
			Summary: fmt.Sprintf("`terraform plan` runs at %s.", md.Code(shortSHA(run.at)))})
	})
	// settled waits for the in-progress write, if it started, so that it
	// never lands after the result.
	settled := sync.OnceValue(func() error {
		if slow.Stop() {
			return nil
		}
		return <-started
	})
	defer settled()
	var results []planResult
	for _, t := range run.targets {
		p := set.Planner(t.env)
		if p == nil {
			results = append(results, planResult{env: t.env, skipped: true})
			continue
		}
		allow, err := run.allow(t.env)
		if err != nil {
			return err
		}
		out, err := p.Plan(ctx, apply.Request{Repo: run.repo, Env: t.env, Ref: run.ref, SHA: run.at, Roots: t.roots, RequestIDs: run.ids, AllowDestroy: allow})
		if err != nil {
			return fmt.Errorf("plan %s at %.12s: %w", t.env, run.at, err)
		}
		if out.Status == apply.Cancelled && ctx.Err() != nil {
			return fmt.Errorf("plan %s at %.12s: %w", t.env, run.at, ctx.Err())
		}
		log.InfoContext(ctx, "planned", "env", t.env, "sha", run.at, "status", out.Status)
		results = append(results, planResult{env: t.env, out: out})
	}
	if err := settled(); err != nil {
		return err
	}
	ch := planCheck(results, run.at)
	ch.Summary = md.Cap(run.note+ch.Summary, 60000, "The summary was cut to fit a check run.")
	return check(ch)
}

// planInProgressAfter is how long a plan runs before its check shows it
// in progress.
const planInProgressAfter = 2 * time.Second

func envList(ts []planTarget) string {
	var envs []string
	for _, t := range ts {
		envs = append(envs, t.env)
	}
	return strings.Join(envs, ", ")
}

func shortSHA(sha string) string { return sha[:min(7, len(sha))] }

// planCheck is the finished check of a pull request's plans: failure when
// one fails or would destroy a protected resource, neutral when every
// environment's plans are skipped, else success. The summary names what
// would be destroyed or replaced first, then the counts; the text is each
// environment's report.
func planCheck(results []planResult, sha string) forge.Check {
	ch := forge.Check{Status: policy.StatusCompleted}
	var blocked, destroyed, counts, skipped []string
	var failed []string
	var add, change, destroy, planned int
	for _, r := range results {
		if r.skipped {
			skipped = append(skipped, r.env)
			continue
		}
		planned++
		if r.out.Status != apply.Succeeded {
			failed = append(failed, r.env)
		}
		for _, root := range r.out.Roots {
			if root.Plan == nil {
				counts = append(counts, fmt.Sprintf("- %s %s: %s", md.Code(r.env), md.Code(root.Root), md.Text(string(root.Status))))
				continue
			}
			s := root.Plan
			add, change, destroy = add+s.Add, change+s.Change, destroy+s.Destroy
			counts = append(counts, fmt.Sprintf("- %s %s: %d to add, %d to change, %d to destroy", md.Code(r.env), md.Code(root.Root), s.Add, s.Change, s.Destroy))
			for _, c := range s.Changes {
				switch {
				case c.Blocks():
					blocked = append(blocked, fmt.Sprintf("- **%s** %s in %s, protected by %s", md.Text(c.Action), md.Code(c.Address), md.Code(root.Root), md.Code(c.Protected)))
				case c.Destructive():
					destroyed = append(destroyed, fmt.Sprintf("- %s %s in %s", md.Text(c.Action), md.Code(c.Address), md.Code(root.Root)))
				}
			}
		}
	}
	total := fmt.Sprintf("%d to add, %d to change, %d to destroy", add, change, destroy)
	switch {
	case planned == 0:
		ch.Conclusion, ch.Title = "neutral", "Not planned: plans are skipped for "+strings.Join(skipped, ", ")
		ch.Summary = "Not planned: apply.plan.skip names " + md.Text(strings.Join(skipped, ", ")) + ", so no pull-request plan runs there."
		return ch
	case len(blocked) > 0:
		ch.Conclusion, ch.Title = "failure", fmt.Sprintf("Would destroy or replace %d protected resource(s)", len(blocked))
	case len(failed) > 0:
		ch.Conclusion, ch.Title = "failure", "Plan failed in "+strings.Join(failed, ", ")
	default:
		ch.Conclusion, ch.Title = policy.ConclusionOK, "Plan: "+total
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** at %s: %s.\n\n", md.Text(ch.Title), md.Code(shortSHA(sha)), total)
	if len(blocked) > 0 {
		b.WriteString("**Blocked: the plan would destroy or replace protected resources**\n\n" + strings.Join(blocked, "\n") + "\n\n")
	}
	if len(destroyed) > 0 {
		b.WriteString("Destroyed or replaced:\n\n" + strings.Join(destroyed, "\n") + "\n\n")
	}
	b.WriteString(strings.Join(counts, "\n") + "\n")
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "\nNot planned (apply.plan.skip): %s.\n", md.Text(strings.Join(skipped, ", ")))
	}
	ch.Summary = md.Cap(b.String(), 60000, "The summary was cut to fit a check run.")
	var text strings.Builder
	per := apply.MaxReport / max(planned, 1)
	for _, r := range results {
		if r.skipped {
			continue
		}
		text.WriteString(apply.Report(r.out, apply.ReportOptions{Title: "Plan of " + r.env + " at " + shortSHA(sha), Limit: per - 2}))
		text.WriteString("\n")
	}
	ch.Text = text.String()
	return ch
}
