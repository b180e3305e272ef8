package forge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// Check is the one check run of a name on a head commit.
type Check struct {
	Name       string
	HeadSHA    string
	Status     string // queued, in_progress, completed ("" with a Conclusion: completed)
	Conclusion string // success, failure, neutral, action_required, ...
	Title      string
	Summary    string // markdown
	Text       string // markdown, optional
	DetailsURL string
	ExternalID string
	// Annotations are sent 50 per request, as GitHub accepts.
	Annotations []Annotation
}

// Annotation points at lines of a file.
type Annotation struct {
	Path      string
	StartLine int
	EndLine   int    // default StartLine
	Level     string // notice, warning, failure
	Title     string
	Message   string
}

const annotationsPerRequest = 50

// SetCheck creates or updates the check run of ch.Name on ch.HeadSHA made
// by this App, and returns its id. When the run already shows exactly this
// (status, conclusion, title, summary, text, no annotations) nothing is
// written. Creating is not repeated blindly: after an uncertain failure the
// runs are listed again and a run that appeared is updated instead.
func (c *Client) SetCheck(ctx context.Context, repo string, ch Check) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	if ch.Name == "" || ch.HeadSHA == "" {
		return 0, fmt.Errorf("forge: set check: name and head sha are required")
	}
	if ch.Status == "" {
		ch.Status = "completed"
		if ch.Conclusion == "" {
			ch.Status = "in_progress"
		}
	}
	defer c.locks.lock(fmt.Sprintf("check:%s@%s:%s", repo, ch.HeadSHA, ch.Name))()
	first, rest := ch.Annotations, []Annotation(nil)
	if len(first) > annotationsPerRequest {
		first, rest = first[:annotationsPerRequest], first[annotationsPerRequest:]
	}
	const rounds = 3
	var id int64
	for round := 1; ; round++ {
		run, err := c.findCheck(ctx, owner, name, ch)
		if err != nil {
			return 0, err
		}
		if run != nil {
			if sameCheck(run, ch) {
				return run.GetID(), nil
			}
			if err := c.updateCheck(ctx, owner, name, run.GetID(), ch, first); err != nil {
				return 0, err
			}
			id = run.GetID()
			break
		}
		opts := github.CreateCheckRunOptions{Name: ch.Name, HeadSHA: ch.HeadSHA, Status: github.String(ch.Status),
			Output: output(ch, first)}
		if ch.Conclusion != "" {
			opts.Conclusion = github.String(ch.Conclusion)
		}
		if ch.DetailsURL != "" {
			opts.DetailsURL = github.String(ch.DetailsURL)
		}
		if ch.ExternalID != "" {
			opts.ExternalID = github.String(ch.ExternalID)
		}
		created, _, err := c.gh.Checks.CreateCheckRun(notRepeatable(ctx), owner, name, opts)
		if err == nil {
			id = created.GetID()
			break
		}
		if !uncertain(ctx, err) {
			return 0, wrap(fmt.Sprintf("create check run %q", ch.Name), err)
		}
		if round == rounds {
			return 0, fmt.Errorf("forge: create check run %q: %w: %w", ch.Name, ErrUncertain, wrap("create check run", err))
		}
		if err := c.settle(ctx, round); err != nil {
			return 0, err
		}
	}
	for len(rest) > 0 {
		n := min(len(rest), annotationsPerRequest)
		if err := c.updateCheck(ctx, owner, name, id, ch, rest[:n]); err != nil {
			return id, err
		}
		rest = rest[n:]
	}
	return id, nil
}

// findCheck returns the latest run of the name on the head made by this App.
func (c *Client) findCheck(ctx context.Context, owner, name string, ch Check) (*github.CheckRun, error) {
	opt := &github.ListCheckRunsOptions{CheckName: github.String(ch.Name), Filter: github.String("latest"),
		ListOptions: github.ListOptions{PerPage: 100}}
	if c.appID != 0 {
		opt.AppID = github.Int64(c.appID)
	}
	res, _, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, name, ch.HeadSHA, opt)
	if err != nil {
		return nil, wrap(fmt.Sprintf("list check runs of %.12s", ch.HeadSHA), err)
	}
	for _, run := range res.CheckRuns {
		if run.GetName() == ch.Name && (c.appID == 0 || run.GetApp().GetID() == c.appID) {
			return run, nil
		}
	}
	return nil, nil
}

func (c *Client) updateCheck(ctx context.Context, owner, name string, id int64, ch Check, annotations []Annotation) error {
	opts := github.UpdateCheckRunOptions{Name: ch.Name, Status: github.String(ch.Status), Output: output(ch, annotations)}
	if ch.Conclusion != "" {
		opts.Conclusion = github.String(ch.Conclusion)
	}
	if ch.DetailsURL != "" {
		opts.DetailsURL = github.String(ch.DetailsURL)
	}
	if ch.ExternalID != "" {
		opts.ExternalID = github.String(ch.ExternalID)
	}
	if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, name, id, opts); err != nil {
		return wrap(fmt.Sprintf("update check run %d", id), err)
	}
	return nil
}

func output(ch Check, annotations []Annotation) *github.CheckRunOutput {
	out := &github.CheckRunOutput{Title: github.String(ch.Title), Summary: github.String(ch.Summary)}
	if ch.Text != "" {
		out.Text = github.String(ch.Text)
	}
	for _, a := range annotations {
		end := a.EndLine
		if end == 0 {
			end = a.StartLine
		}
		level := a.Level
		if level == "" {
			level = "failure"
		}
		ann := &github.CheckRunAnnotation{Path: github.String(a.Path), StartLine: github.Int(a.StartLine),
			EndLine: github.Int(end), AnnotationLevel: github.String(level), Message: github.String(a.Message)}
		if a.Title != "" {
			ann.Title = github.String(a.Title)
		}
		out.Annotations = append(out.Annotations, ann)
	}
	return out
}

func sameCheck(run *github.CheckRun, ch Check) bool {
	o := run.GetOutput()
	return len(ch.Annotations) == 0 && run.GetStatus() == ch.Status && run.GetConclusion() == ch.Conclusion &&
		o.GetTitle() == ch.Title && o.GetSummary() == ch.Summary && o.GetText() == ch.Text &&
		(ch.DetailsURL == "" || run.GetDetailsURL() == ch.DetailsURL) && (ch.ExternalID == "" || run.GetExternalID() == ch.ExternalID)
}

// Status is a commit status (the older API; a check run is preferred).
type Status struct {
	Context     string
	State       string // error, failure, pending, success
	Description string
	TargetURL   string
}

// SetStatus sets a commit status. Repeating it is harmless (the latest
// status of a context wins), so it is retried like a read.
func (c *Client) SetStatus(ctx context.Context, repo, sha string, s Status) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	st := &github.RepoStatus{Context: github.String(s.Context), State: github.String(s.State)}
	if s.Description != "" {
		st.Description = github.String(s.Description)
	}
	if s.TargetURL != "" {
		st.TargetURL = github.String(s.TargetURL)
	}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, owner, name, sha, st); err != nil {
		return wrap(fmt.Sprintf("set status %q on %.12s", s.Context, sha), err)
	}
	return nil
}
