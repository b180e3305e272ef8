package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/webhook"
)

// workflowDispatchHandler takes dispatches of the create-rds-database
// workflow (Backstage's template).
type workflowDispatchHandler struct{ b *Bot }

func (h *workflowDispatchHandler) Events() []string { return []string{"workflow_dispatch"} }

func (h *workflowDispatchHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.WorkflowDispatchEvent](d)
	if err != nil {
		return err
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
	if err != nil {
		return err
	}
	if path.Base(ev.GetWorkflow()) != path.Base(rc.config().Generated.DispatchWorkflow) {
		return nil // another workflow
	}
	var inputs map[string]any
	if len(ev.Inputs) > 0 {
		if err := json.Unmarshal(ev.Inputs, &inputs); err != nil {
			return jobs.Permanent(fmt.Errorf("decode dispatch inputs: %w", err))
		}
	}
	return b.openRequestIssue(ctx, c, rc, d, contract.SourceDispatch, inputs, ev.GetSender().GetLogin())
}

// repositoryDispatchHandler takes repository_dispatch events of the request
// event type.
type repositoryDispatchHandler struct{ b *Bot }

func (h *repositoryDispatchHandler) Events() []string { return []string{"repository_dispatch"} }

func (h *repositoryDispatchHandler) Handle(ctx context.Context, d webhook.Delivery) error {
	b := h.b
	ev, err := decode[github.RepositoryDispatchEvent](d)
	if err != nil {
		return err
	}
	if ev.GetAction() != b.dispatch {
		return nil
	}
	var inputs map[string]any
	if len(ev.ClientPayload) > 0 {
		if err := json.Unmarshal(ev.ClientPayload, &inputs); err != nil {
			return jobs.Permanent(fmt.Errorf("decode client_payload: %w", err))
		}
	}
	c, err := b.client(ctx, &d, d.Repository)
	if err != nil {
		return err
	}
	rc, err := b.loadRepo(ctx, c, d.Repository, b.maxAge)
	if err != nil {
		return err
	}
	return b.openRequestIssue(ctx, c, rc, d, contract.SourceRepositoryDispatch, inputs, ev.GetSender().GetLogin())
}

// errOpening is returned while another delivery of the same request is
// opening its issue; the job is retried and then joins that issue.
var errOpening = errors.New("bot: another delivery is opening the issue of the same request")

// openingStale is how long a reservation of a request's opening is honoured
// before another delivery of it may take over (its job died).
const openingStale = 10 * time.Minute

// openRequestIssue opens the request issue of a dispatch, exactly once per
// request: a retried job finds what its delivery opened, and the same inputs
// submitted again (a new delivery, say a double click in Backstage) join the
// open request instead of opening a second one.
func (b *Bot) openRequestIssue(ctx context.Context, c *forge.Client, rc *repoContext, d webhook.Delivery, src contract.Source, inputs map[string]any, sender string) error {
	repo := d.Repository
	if n, ok, err := b.ledger.DeliveryIssue(ctx, repo, d.ID); err != nil {
		return err
	} else if ok {
		return b.enqueue(ctx, repo, n, string(src))
	}
	fp := fingerprint(src, inputs)
	joined, err := b.joinOpen(ctx, c, repo, d.ID, fp)
	if err != nil || joined != 0 {
		if joined != 0 {
			b.log.InfoContext(ctx, "dispatch submitted again: it joins the open request", "repository", repo,
				"delivery", d.ID, "issue", joined, "sender", sender)
			return b.enqueue(ctx, repo, joined, "submitted again")
		}
		return err
	}
	holder, err := b.ledger.BeginOpening(ctx, repo, fp, d.ID, openingStale)
	if err != nil {
		return err
	}
	if holder != d.ID {
		return errOpening
	}
	// Another delivery of the same inputs may have opened its issue and
	// released its reservation between our first look and our reservation:
	// look again now that nobody else can be opening it.
	if joined, err := b.joinOpen(ctx, c, repo, d.ID, fp); err != nil || joined != 0 {
		if e := b.ledger.EndOpening(ctx, repo, fp, d.ID); e != nil {
			err = errors.Join(err, e)
		}
		if err != nil {
			return err
		}
		b.log.InfoContext(ctx, "dispatch submitted again: it joins the open request", "repository", repo,
			"delivery", d.ID, "issue", joined, "sender", sender)
		return b.enqueue(ctx, repo, joined, "submitted again")
	}
	s := rc.planner.Schema.Request
	raw, probs := contract.FromInputs(s, src, inputs)
	requester := raw.Values["requester"].Text
	title, body := IssueFromRaw(s, raw, probs, Origin{Source: src, Requester: requester, Sender: sender})
	is, created, err := c.CreateIssue(ctx, repo, forge.NewIssue{
		Title: title, Body: body, Labels: []string{rc.config().Labels.Request},
		Marker: forge.Marker("dispatch:" + d.ID),
	})
	if err != nil {
		if e := b.ledger.EndOpening(ctx, repo, fp, d.ID); e != nil {
			err = errors.Join(err, e)
		}
		return err
	}
	if err := b.ledger.RecordOrigin(ctx, ledger.Origin{Repo: repo, Issue: is.Number, Source: string(src), Delivery: d.ID,
		Requester: requester, Sender: sender, Fingerprint: fp}); err != nil {
		return err
	}
	if err := b.ledger.AcceptText(ctx, repo, is.Number, ledger.Text{Body: is.Body, Editor: c.BotLogin(), At: is.CreatedAt}); err != nil {
		return err
	}
	b.log.InfoContext(ctx, "request issue for a dispatch", "delivery", d.ID, "repository", repo,
		"issue", is.Number, "created", created, "source", string(src))
	return b.enqueue(ctx, repo, is.Number, string(src))
}

// joinOpen finds an open request issue opened for the same inputs and
// records that delivery joined it.
func (b *Bot) joinOpen(ctx context.Context, c *forge.Client, repo, delivery, fp string) (int, error) {
	issues, err := b.ledger.IssuesWithFingerprint(ctx, repo, fp)
	if err != nil {
		return 0, err
	}
	for _, n := range issues {
		is, err := c.GetIssue(ctx, repo, n)
		if forge.IsNotFound(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if is.State != "open" {
			continue
		}
		if merged, err := b.mergedPull(ctx, c, repo, n); err != nil {
			return 0, err
		} else if merged != nil {
			continue
		}
		return n, b.ledger.RecordJoin(ctx, repo, delivery, fp, n)
	}
	return 0, nil
}

// fingerprint identifies a dispatched request by its source and inputs.
func fingerprint(src contract.Source, inputs map[string]any) string {
	canon, _ := json.Marshal(inputs) // encoding/json sorts map keys
	sum := sha256.Sum256(append([]byte(string(src)+"\x00"), canon...))
	return hex.EncodeToString(sum[:16])
}
