package githubfake

import (
	"fmt"
	"slices"
	"strings"
)

// Acting as users and Apps on what an approval gate watches: reviews,
// review requests, drafts, commit statuses, check runs, the merge queue.

// ReviewAt submits a review on a given commit of the pull request (an older
// head, as a reviewer who loaded the page before a push does): event is
// APPROVE, REQUEST_CHANGES or COMMENT.
func (a *Actor) ReviewAt(repoName string, number int, commitID, event, body string) (int64, error) {
	var id int64
	err := a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		rv, err := a.f.submitReview(r, pr, u, event, body, commitID)
		if rv != nil {
			id = rv.ID
		}
		return err
	})
	return id, err
}

// Approve is Review with APPROVE.
func (a *Actor) Approve(repoName string, number int) (int64, error) {
	return a.Review(repoName, number, "APPROVE", "")
}

// RequestChanges is Review with REQUEST_CHANGES.
func (a *Actor) RequestChanges(repoName string, number int, body string) (int64, error) {
	return a.Review(repoName, number, "REQUEST_CHANGES", body)
}

// CommentReview is Review with COMMENT.
func (a *Actor) CommentReview(repoName string, number int, body string) (int64, error) {
	return a.Review(repoName, number, "COMMENT", body)
}

// EditReview changes the body of the actor's own review (pull_request_review edited).
func (a *Actor) EditReview(repoName string, number int, reviewID int64, body string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		for _, rv := range pr.Reviews {
			if rv.ID == reviewID {
				return a.f.editReviewOp(r, pr, rv, u, body)
			}
		}
		return fmt.Errorf("no review %d", reviewID)
	})
}

// RequestReview asks users and teams (slugs) for a review (review_requested).
func (a *Actor) RequestReview(repoName string, number int, users, teams []string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		return a.f.requestReviewersOp(r, pr, u, users, teams)
	})
}

// MarkReadyForReview turns a draft into a pull request ready for review
// (ready_for_review). GitHub offers it in the UI and GraphQL only.
func (a *Actor) MarkReadyForReview(repoName string, number int) error {
	return a.setDraft(repoName, number, false)
}

// ConvertToDraft turns a pull request back into a draft
// (converted_to_draft); a queued pull request leaves the merge queue.
func (a *Actor) ConvertToDraft(repoName string, number int) error {
	return a.setDraft(repoName, number, true)
}

func (a *Actor) setDraft(repoName string, number int, draft bool) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		if pr.issue.State != "open" {
			return fmt.Errorf("pull request #%d is closed", number)
		}
		if !strings.EqualFold(u.Login, pr.issue.User) {
			if err := a.f.requireRole(r, u, "write"); err != nil {
				return err
			}
		}
		if pr.Draft == draft {
			return nil
		}
		pr.Draft = draft
		now := a.f.now()
		event, action := "ready_for_review", "ready_for_review"
		if draft {
			event, action = "convert_to_draft", "converted_to_draft"
			a.f.leaveQueue(r, pr, u, dequeueUnknown)
		}
		pr.issue.UpdatedAt = now
		pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: a.f.id(), Event: event, Actor: u.Login, CreatedAt: now})
		a.f.emitPull(r, pr, action, u, nil)
		return nil
	})
}

// PostStatus sets a commit status as the actor (write access is enough, for
// any context, "rdsbot/approval" included) and returns its id (status).
func (a *Actor) PostStatus(repoName, sha string, s NewStatus) (int64, error) {
	var id int64
	err := a.do(repoName, func(r *repo, u *User) error {
		st, err := a.f.createStatusOp(r, u, 0, sha, s)
		if st != nil {
			id = st.ID
		}
		return err
	})
	return id, err
}

// Enqueue adds a pull request to its base branch's merge queue (enqueued,
// added_to_merge_queue). GitHub offers this in the UI and through GraphQL's
// enqueuePullRequest, not in REST, so the fake serves it here only. The pull
// request must meet the branch's requirements first.
func (a *Actor) Enqueue(repoName string, number int) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		return a.f.enqueue(r, pr, u)
	})
}

// Dequeue removes a pull request from the merge queue (dequeued with reason
// MANUAL, removed_from_merge_queue); the groups behind it are rebuilt.
func (a *Actor) Dequeue(repoName string, number int) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		if q := r.queues[pr.Base]; q == nil || q.index(pr) < 0 {
			return fmt.Errorf("pull request #%d is not in the merge queue", number)
		}
		if err := a.f.requireRole(r, u, "write"); err != nil {
			return err
		}
		a.f.leaveQueue(r, pr, u, dequeueManual)
		return nil
	})
}

// NewCheckRun is a check run an App reports (PostCheckRun, UpdateCheckRun).
// Status "" is completed when Conclusion is set, otherwise in_progress.
type NewCheckRun struct {
	Name       string
	HeadSHA    string
	Status     string
	Conclusion string
	Title      string
	Summary    string
}

func (n NewCheckRun) request() checkRunRequest {
	req := checkRunRequest{HeadSHA: n.HeadSHA}
	if n.Name != "" {
		req.Name = &n.Name
	}
	status := n.Status
	if status == "" && n.Conclusion == "" {
		status = "in_progress"
	}
	if status != "" {
		req.Status = &status
	}
	if n.Conclusion != "" {
		req.Conclusion = &n.Conclusion
	}
	if n.Title != "" || n.Summary != "" {
		req.Output = &struct {
			Title   string `json:"title"`
			Summary string `json:"summary"`
			Text    string `json:"text"`
		}{Title: n.Title, Summary: n.Summary}
	}
	return req
}

// PostCheckRun creates a check run as an App installed on the repository
// (check_run created, with the App in the payload) and returns its id: a
// CI App, or an App impersonating rdsbot's check names.
func (f *Fake) PostCheckRun(appID int64, repoName string, n NewCheckRun) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, app, err := f.appOn(appID, repoName)
	if err != nil {
		return 0, err
	}
	cr, err := f.createCheckRunOp(r, app, n.request())
	if err != nil {
		return 0, fmt.Errorf("githubfake: app %d: %w", appID, err)
	}
	return cr.ID, nil
}

// UpdateCheckRun changes an App's check run (check_run completed when it completes).
func (f *Fake) UpdateCheckRun(appID int64, repoName string, id int64, n NewCheckRun) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, app, err := f.appOn(appID, repoName)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(r.checkRuns, func(cr *CheckRun) bool { return cr.ID == id })
	if i < 0 || r.checkRuns[i].AppID != app.ID {
		return fmt.Errorf("githubfake: app %d has no check run %d in %s", appID, id, repoName)
	}
	cr := r.checkRuns[i]
	was, next := cr.Status, *cr
	if msg := n.request().apply(&next, f.now()); msg != "" {
		return fmt.Errorf("githubfake: check run %d: %s", id, msg)
	}
	*cr = next
	if was != "completed" && cr.Status == "completed" {
		f.emitCheckRun(r, cr, "completed", app.bot)
	}
	f.checksChanged(r)
	return nil
}

// appOn resolves an App installed on a repository.
func (f *Fake) appOn(appID int64, repoName string) (*repo, *App, error) {
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil, nil, err
	}
	app := f.apps[appID]
	if app == nil {
		return nil, nil, fmt.Errorf("githubfake: no app %d", appID)
	}
	for _, in := range f.installs {
		if in.app == app && in.covers(r) {
			return r, app, nil
		}
	}
	return nil, nil, fmt.Errorf("githubfake: app %s is not installed on %s", app.Slug, repoName)
}

// MergeQueue lists the entries of a branch's merge queue, first first.
func (f *Fake) MergeQueue(repoName, base string) []QueueEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil || r.queues[base] == nil {
		return nil
	}
	var out []QueueEntry
	for _, e := range r.queues[base].entries {
		out = append(out, QueueEntry{Number: e.pr.Number, EnqueuedBy: e.by, EnqueuedAt: e.at,
			GroupSHA: e.groupSHA, GroupRef: e.ref, GroupBase: e.groupBase})
	}
	return out
}

// TeamMembership reports a user's membership of a team as GitHub's
// membership endpoint does: role and state (active, pending), "" when none.
func (f *Fake) TeamMembership(orgLogin, slug, login string) (role, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, t, err := f.orgTeam(orgLogin, slug)
	if err != nil {
		return "", ""
	}
	return o.membership(t, login)
}
