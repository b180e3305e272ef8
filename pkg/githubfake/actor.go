package githubfake

import (
	"fmt"
	"slices"
	"strings"
)

// Acting as a user: every method does what the user's click would and
// emits the same webhooks.

// Actor performs actions as one account.
type Actor struct {
	f     *Fake
	login string
}

// As returns an Actor for login (the account is created if unknown).
func (f *Fake) As(login string) *Actor {
	f.AddUser(login)
	return &Actor{f: f, login: login}
}

// do runs fn with the fake locked, the repository resolved and the actor's account.
func (a *Actor) do(repoName string, fn func(r *repo, u *User) error) error {
	a.f.mu.Lock()
	defer a.f.mu.Unlock()
	r, err := a.f.repoByName(repoName)
	if err != nil {
		return err
	}
	if err := fn(r, a.f.user(a.login)); err != nil {
		return fmt.Errorf("githubfake: %s: %w", a.login, err)
	}
	return nil
}

func issueIn(r *repo, number int) (*Issue, error) {
	is := r.issues[number]
	if is == nil {
		return nil, fmt.Errorf("no issue #%d in %s", number, r.fullName())
	}
	return is, nil
}

func pullIn(r *repo, number int) (*PullRequest, error) {
	pr := r.pulls[number]
	if pr == nil {
		return nil, fmt.Errorf("no pull request #%d in %s", number, r.fullName())
	}
	return pr, nil
}

// OpenIssue opens an issue and returns its number.
func (a *Actor) OpenIssue(repoName, title, body string, labels ...string) (int, error) {
	var n int
	err := a.do(repoName, func(r *repo, u *User) error {
		if a.f.requireRole(r, u, "triage") != nil {
			labels = nil // the UI offers labels to triage and above only
		}
		is, err := a.f.openIssue(r, u, title, body, labels, nil)
		if is != nil {
			n = is.Number
		}
		return err
	})
	return n, err
}

// OpenIssueForm submits the issue form at templatePath (for example
// ".github/ISSUE_TEMPLATE/rds-request.yml" on the default branch) with
// answers keyed by field id or label: the title is the template's title
// prefix plus title, the labels are the template's, the body is rendered
// like GitHub renders forms.
func (a *Actor) OpenIssueForm(repoName, templatePath, title string, answers map[string]string) (int, error) {
	var n int
	err := a.do(repoName, func(r *repo, u *User) error {
		fe, ok := a.f.commitFiles(r, r.branchSHA(r.defaultBranch))[templatePath]
		if !ok {
			return fmt.Errorf("no issue form %s on %s", templatePath, r.defaultBranch)
		}
		o, _ := r.objects.get(fe.SHA)
		prefix, labels, body, err := renderIssueForm(o.data, answers)
		if err != nil {
			return err
		}
		is, err := a.f.openIssue(r, u, prefix+title, body, labels, nil)
		if is != nil {
			n = is.Number
		}
		return err
	})
	return n, err
}

// EditIssue changes an issue (or a pull request's title, body, state, labels).
func (a *Actor) EditIssue(repoName string, number int, e IssueEdit) error {
	return a.do(repoName, func(r *repo, u *User) error {
		is, err := issueIn(r, number)
		if err != nil {
			return err
		}
		return a.f.editIssueOp(r, is, u, e)
	})
}

// Comment comments on an issue or pull request and returns the comment id.
func (a *Actor) Comment(repoName string, number int, body string) (int64, error) {
	var id int64
	err := a.do(repoName, func(r *repo, u *User) error {
		is, err := issueIn(r, number)
		if err != nil {
			return err
		}
		cm, err := a.f.addComment(r, is, u, body)
		if cm != nil {
			id = cm.ID
		}
		return err
	})
	return id, err
}

// EditComment changes a comment's body.
func (a *Actor) EditComment(repoName string, commentID int64, body string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		cm := r.comments[commentID]
		if cm == nil {
			return fmt.Errorf("no comment %d", commentID)
		}
		return a.f.editCommentOp(r, cm, u, body)
	})
}

// AddLabels adds labels to an issue or pull request (creating missing repository labels).
func (a *Actor) AddLabels(repoName string, number int, labels ...string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		is, err := issueIn(r, number)
		if err != nil {
			return err
		}
		if err := a.f.requireRole(r, u, "triage"); err != nil {
			return err
		}
		a.f.addLabels(r, is, u, labels)
		return nil
	})
}

// RemoveLabel removes a label from an issue or pull request.
func (a *Actor) RemoveLabel(repoName string, number int, label string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		is, err := issueIn(r, number)
		if err != nil {
			return err
		}
		if err := a.f.requireRole(r, u, "triage"); err != nil {
			return err
		}
		return a.f.removeLabel(r, is, u, label)
	})
}

// Change is a commit pushed by Actor.Push.
type Change struct {
	Message string
	Files   map[string]string // path -> new content
	Delete  []string          // paths to remove
	// From is where a new branch starts (default: the default branch).
	From string
	// Force replaces the branch tip instead of building on it (From is then the parent).
	Force bool
	// Author, when set, is the author the commit claims (git lets anyone
	// write any name); the actor still pushes it.
	Author *Signature
}

// Push commits a change on branch (creating the branch from Change.From if
// needed) as the actor, moves the branch and returns the commit id. It
// emits push, and pull_request synchronize for open pull requests from the branch.
func (a *Actor) Push(repoName, branch string, ch Change) (string, error) {
	var sha string
	err := a.do(repoName, func(r *repo, u *User) error {
		parent := r.branchSHA(branch)
		if parent == "" || ch.Force {
			from := ch.From
			if from == "" {
				from = r.defaultBranch
			}
			p, ok := r.resolve(from)
			if !ok {
				return fmt.Errorf("no ref %s", from)
			}
			parent = p
		}
		files := a.f.commitFiles(r, parent)
		for p, content := range ch.Files {
			mode := modeFile
			if old, ok := files[p]; ok {
				mode = old.Mode
			}
			files[strings.Trim(p, "/")] = fileEntry{Mode: mode, SHA: r.objects.putBlob([]byte(content))}
		}
		for _, p := range ch.Delete {
			delete(files, strings.Trim(p, "/"))
		}
		tree, err := r.objects.buildTree(files)
		if err != nil {
			return err
		}
		msg := ch.Message
		if msg == "" {
			msg = "Update " + branch
		}
		sig := Signature{Name: u.Login, Email: noreplyEmail(u), Date: a.f.now()}
		author := sig
		if ch.Author != nil {
			author = *ch.Author
			author.Date = sig.Date
		}
		sha = r.objects.putCommit(commitData{Tree: tree, Parents: []string{parent}, Author: author, Committer: sig, Message: msg})
		if err := a.f.refWriteAllowed(r, "refs/heads/"+branch, sha, u); err != nil {
			sha = ""
			return err
		}
		a.f.setRef(r, "refs/heads/"+branch, sha, u)
		return nil
	})
	return sha, err
}

// OpenPR opens a pull request from head into base and returns its number.
func (a *Actor) OpenPR(repoName, head, base, title, body string) (int, error) {
	var n int
	err := a.do(repoName, func(r *repo, u *User) error {
		pr, err := a.f.openPull(r, u, title, body, head, base, false)
		if pr != nil {
			n = pr.Number
		}
		return err
	})
	return n, err
}

// EditPR changes a pull request's title, body, state or base.
func (a *Actor) EditPR(repoName string, number int, e PullEdit) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		return a.f.updatePullOp(r, pr, u, e)
	})
}

// Review submits a review: event is APPROVE, REQUEST_CHANGES or COMMENT. The
// review records the pull request's head commit at this moment.
func (a *Actor) Review(repoName string, number int, event, body string) (int64, error) {
	var id int64
	err := a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		rv, err := a.f.submitReview(r, pr, u, event, body, "")
		if rv != nil {
			id = rv.ID
		}
		return err
	})
	return id, err
}

// DismissReview dismisses an approving or change-requesting review.
func (a *Actor) DismissReview(repoName string, number int, reviewID int64, message string) error {
	return a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		for _, rv := range pr.Reviews {
			if rv.ID == reviewID {
				return a.f.dismissReviewOp(r, pr, rv, u, message)
			}
		}
		return fmt.Errorf("no review %d", reviewID)
	})
}

// Merge merges a pull request ("merge", "squash" or "rebase"; "" is merge)
// and returns the merge commit id (a rebase merge's last commit). Refusals carry GitHub's message (not mergeable,
// required check expected).
func (a *Actor) Merge(repoName string, number int, method string) (string, error) {
	var sha string
	err := a.do(repoName, func(r *repo, u *User) error {
		pr, err := pullIn(r, number)
		if err != nil {
			return err
		}
		sha, err = a.f.mergePull(r, pr, u, method, "", "", "")
		return err
	})
	return sha, err
}

// DispatchWorkflow runs workflow_dispatch for the workflow file (name under
// .github/workflows) at ref with inputs, checked like GitHub checks them,
// and returns the run id.
func (a *Actor) DispatchWorkflow(repoName, workflowFile, ref string, inputs map[string]any) (int64, error) {
	var id int64
	err := a.do(repoName, func(r *repo, u *User) error {
		a.f.scanWorkflows(r)
		run, err := a.f.dispatch(r, u, ".github/workflows/"+workflowFile, ref, inputs)
		if run != nil {
			id = run.ID
		}
		return err
	})
	return id, err
}

// RepositoryDispatch sends repository_dispatch with a client payload.
func (a *Actor) RepositoryDispatch(repoName, eventType string, payload map[string]any) error {
	return a.do(repoName, func(r *repo, u *User) error {
		return a.f.repoDispatch(r, u, eventType, payload)
	})
}

// StartRun moves a queued workflow run to in_progress (workflow_run in_progress).
func (f *Fake) StartRun(repoName string, runID int64) error {
	return f.moveRun(repoName, runID, "in_progress", "")
}

// CompleteRun finishes a workflow run with a conclusion (success, failure,
// cancelled, ...) and emits workflow_run completed.
func (f *Fake) CompleteRun(repoName string, runID int64, conclusion string) error {
	if !slices.Contains(checkConclusions, conclusion) {
		return fmt.Errorf("githubfake: conclusion %q is not one of %s", conclusion, strings.Join(checkConclusions, ", "))
	}
	return f.moveRun(repoName, runID, "completed", conclusion)
}

func (f *Fake) moveRun(repoName string, runID int64, status, conclusion string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	for _, run := range r.runs {
		if run.ID != runID {
			continue
		}
		if run.Status == "completed" {
			return fmt.Errorf("githubfake: run %d is already completed", runID)
		}
		run.Status, run.Conclusion, run.UpdatedAt = status, conclusion, f.now()
		f.emitWorkflowRun(r, run, status, f.user(run.Actor))
		return nil
	}
	return fmt.Errorf("githubfake: no run %d in %s", runID, repoName)
}
