package bot

import (
	"context"
	"fmt"

	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// workflowRunHandler takes workflow_run completed events. Each wakes the
// actions runner that follows the run (it reads the run from GitHub, so
// the payload decides nothing), and a successful run of an apply that
// failed (a person re-ran it, or the bot stopped following it at the
// timeout) starts the rollout again, which finds that run by its key and
// carries the requests to active.
type workflowRunHandler struct{ b *Bot }

func (h *workflowRunHandler) Events() []string { return []string{"workflow_run"} }

func (h *workflowRunHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	if d.Action != "completed" || d.Repository == "" {
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
	u, err := b.runners(d.Repository, rc.config().Apply).Actions.Observe(d.Payload)
	if err != nil {
		return jobs.Permanent(err)
	}
	if u == nil || u.Key == "" {
		return nil // another workflow, or a run the bot did not name
	}
	rec, env, ok, err := h.failedApplyOf(ctx, d.Repository, u.Key, rc)
	if err != nil || !ok {
		return err
	}
	// The payload only points at the run: read it before acting.
	run, err := c.GetWorkflowRun(ctx, d.Repository, u.Run.ID)
	if err != nil {
		return err
	}
	if run.Status != "completed" || run.Conclusion != "success" || apply.KeyOf(run.DisplayTitle) != u.Key {
		return nil // a failed re-run changes nothing: the request stays failed
	}
	retried, err := b.ledger.RetryApply(ctx, d.Repository, env, rec.SHA)
	if err != nil || !retried {
		return err
	}
	b.log.InfoContext(ctx, "failed apply's workflow run succeeded; rollout resumes", "repository", d.Repository,
		"env", env, "commit", rec.SHA, "run", run.ID, "attempt", run.Attempt, "actor", run.Actor)
	return b.enqueueApply(ctx, d.Repository, env,
		fmt.Sprintf("workflow run %d (attempt %d) succeeded", run.ID, run.Attempt))
}

// failedApplyOf finds the failed apply whose run key is key: the newest
// failed apply of each environment, keyed as the rollout keys its runs.
func (h *workflowRunHandler) failedApplyOf(ctx context.Context, repo, key string, rc *repoContext) (ledger.Apply, string, bool, error) {
	envs, _ := rc.planner.Schema.Enums.Values("environments")
	for _, env := range envs {
		rec, ok, err := h.b.ledger.FailedApply(ctx, repo, env)
		if err != nil {
			return ledger.Apply{}, "", false, err
		}
		if ok && (apply.Request{Repo: repo, Env: env, SHA: rec.SHA}).OwnsKey(key) {
			return rec, env, true, nil
		}
	}
	return ledger.Apply{}, "", false, nil
}
