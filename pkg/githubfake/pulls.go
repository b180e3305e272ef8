package githubfake

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pullSHAs returns a pull request's head and base commits: live branch tips
// while it is open, the recorded ones once closed.
func (f *Fake) pullSHAs(r *repo, pr *PullRequest) (head, base string) {
	head, base = pr.HeadSHA, pr.BaseSHA
	if pr.issue.State == "open" {
		if sha := r.branchSHA(pr.Head); sha != "" {
			head = sha
		}
		if sha := r.branchSHA(pr.Base); sha != "" {
			base = sha
		}
	}
	return head, base
}

// pullStatus is what GitHub computes about a pull request's mergeability.
type pullStatus struct {
	mergeable      any // bool, or nil when closed
	rebaseable     any // bool, or nil when closed: a rebase merge would apply and give the merge's result
	state          string
	mergeCommitSHA string
	conflicts      []string
	merged         map[string]fileEntry // the merge result when mergeable
	files          []fileChange
	commits        int
	additions      int
	deletions      int
	changedFiles   int
	block          *mergeBlock // what protection refuses (merge queue aside), for nobody in particular
}

// pullState computes mergeability against the current base, the file list
// (merge base to head) and commit counts.
func (f *Fake) pullState(r *repo, pr *PullRequest) pullStatus {
	head, base := f.pullSHAs(r, pr)
	st := pullStatus{state: "unknown", mergeCommitSHA: pr.MergeCommitSHA}
	mb := r.objects.mergeBase(base, head)
	st.files = f.changedFiles(r, mb, head)
	for _, fc := range st.files {
		st.additions += fc.Additions
		st.deletions += fc.Deletions
	}
	st.changedFiles = len(st.files)
	st.commits = len(commitsBetween(r.objects, mb, head))
	if pr.issue.State != "open" {
		return st
	}
	baseFiles, headFiles, mbFiles := f.commitFiles(r, base), f.commitFiles(r, head), f.commitFiles(r, mb)
	st.merged, st.conflicts = mergeTrees(r.objects, mbFiles, baseFiles, headFiles)
	if mb == "" {
		st.conflicts = append(st.conflicts, "(no common history)")
	}
	switch {
	case len(st.conflicts) > 0:
		st.mergeable, st.rebaseable, st.state = false, false, "dirty"
	default:
		st.mergeable = true
		_, st.rebaseable = f.replay(r, base, head, st.merged)
		st.mergeCommitSHA = f.testMerge(r, pr, base, head, st.merged)
		st.block = f.mergeBlocker(r, pr, head, nil, true)
		switch {
		case pr.Draft:
			st.state = "draft"
		case st.block != nil && st.block.kind == "behind":
			st.state = "behind"
		case st.block != nil:
			st.state = "blocked"
		case f.headFailing(r, head):
			st.state = "unstable"
		default:
			st.state = "clean"
		}
	}
	return st
}

// testMerge is GitHub's test merge commit of an open pull request that
// merges cleanly (merge_commit_sha, refs/pull/<n>/merge): the merge result's
// tree with the base's tip and the head as parents. Its times are the
// later of the two parents', so the same base and head give the same commit.
func (f *Fake) testMerge(r *repo, pr *PullRequest, base, head string, merged map[string]fileEntry) string {
	bc, err1 := r.objects.commit(base)
	hc, err2 := r.objects.commit(head)
	if err1 != nil || err2 != nil {
		return ""
	}
	tree, err := r.objects.buildTree(merged)
	if err != nil {
		return ""
	}
	at := bc.Committer.Date
	if hc.Committer.Date.After(at) {
		at = hc.Committer.Date
	}
	sig := Signature{Name: "GitHub", Email: "noreply@github.com", Date: at}
	return r.objects.putCommit(commitData{Tree: tree, Parents: []string{base, head}, Author: sig, Committer: sig,
		Message: fmt.Sprintf("Merge %s into %s", head, base)})
}

// commitFiles flattens a commit's tree; "" or an unknown commit is empty.
func (f *Fake) commitFiles(r *repo, sha string) map[string]fileEntry {
	if sha == "" {
		return map[string]fileEntry{}
	}
	c, err := r.objects.commit(sha)
	if err != nil {
		return map[string]fileEntry{}
	}
	files, err := r.objects.flatten(c.Tree)
	if err != nil {
		return map[string]fileEntry{}
	}
	return files
}

// changedFiles lists the files that differ between two commits, with patches.
func (f *Fake) changedFiles(r *repo, from, to string) []fileChange {
	return diffTrees(r.objects, f.commitFiles(r, from), f.commitFiles(r, to), true)
}

// changedPaths lists the files that differ between two commits, without patches.
func (f *Fake) changedPaths(r *repo, from, to string) []fileChange {
	return diffTrees(r.objects, f.commitFiles(r, from), f.commitFiles(r, to), false)
}

// commitsBetween lists commits reachable from to but not from from, oldest first.
func commitsBetween(s *objectStore, from, to string) []string {
	exclude := map[string]bool{}
	if from != "" {
		for _, id := range s.history(from, 0) {
			exclude[id] = true
		}
	}
	var out []string
	for _, id := range s.history(to, 0) {
		if !exclude[id] {
			out = append(out, id)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// headFailing reports a failed or pending check run (the latest per App and
// name) or commit status (the latest per context) on a commit.
func (f *Fake) headFailing(r *repo, sha string) bool {
	seen := map[string]bool{}
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		cr := r.checkRuns[i]
		key := fmt.Sprintf("%d/%s", cr.AppID, cr.Name)
		if cr.HeadSHA != sha || seen[key] {
			continue
		}
		seen[key] = true
		if cr.Status != "completed" || !passingConclusion(cr.Conclusion) {
			return true
		}
	}
	for i := len(r.statuses) - 1; i >= 0; i-- {
		s := r.statuses[i]
		if s.SHA != sha || seen["status/"+s.Context] {
			continue
		}
		seen["status/"+s.Context] = true
		if s.State != "success" {
			return true
		}
	}
	return false
}

// mergePull merges a pull request as actor: a merge commit (two parents),
// a squash commit (one parent) or the rebased commits on the base branch,
// then the push and pull_request closed events. Callers hold f.mu.
func (f *Fake) mergePull(r *repo, pr *PullRequest, actor *User, method, expectSHA, title, message string) (string, error) {
	if pr.Merged || pr.issue.State != "open" {
		return "", &apiError{status: http.StatusMethodNotAllowed, msg: "Pull Request is not mergeable"}
	}
	head, base := f.pullSHAs(r, pr)
	if expectSHA != "" && !strings.EqualFold(expectSHA, head) {
		return "", &apiError{status: http.StatusConflict, msg: "Head branch was modified. Review and try the merge again."}
	}
	if method == "" {
		method = "merge"
	}
	if err := methodAllowed(r, method); err != nil {
		return "", err
	}
	if err := f.requireRole(r, actor, "write"); err != nil {
		return "", err
	}
	st := f.pullState(r, pr)
	if len(st.conflicts) > 0 {
		return "", &apiError{status: http.StatusMethodNotAllowed, msg: "Pull Request is not mergeable"}
	}
	if b := f.mergeBlocker(r, pr, head, actor, false); b != nil {
		return "", b.err()
	}
	now := f.now()
	if method == "rebase" {
		return f.rebaseMerge(r, pr, actor, base, head, st.merged, now)
	}
	tree, err := r.objects.buildTree(st.merged)
	if err != nil {
		return "", &apiError{status: http.StatusInternalServerError, msg: err.Error()}
	}
	author := Signature{Name: actor.Login, Email: noreplyEmail(actor), Date: now}
	committer := Signature{Name: "GitHub", Email: "noreply@github.com", Date: now}
	parents := []string{base, head}
	if title == "" {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", pr.Number, r.owner.Login, pr.Head)
		if message == "" {
			message = pr.issue.Title
		}
	}
	if method == "squash" {
		parents = []string{base}
		if strings.HasPrefix(title, "Merge pull request") {
			title = fmt.Sprintf("%s (#%d)", pr.issue.Title, pr.Number)
			message = ""
			for _, id := range commitsBetween(r.objects, r.objects.mergeBase(base, head), head) {
				c, _ := r.objects.commit(id)
				message += "* " + strings.TrimSpace(c.Message) + "\n\n"
			}
		}
	}
	msg := title
	if message != "" {
		msg += "\n\n" + strings.TrimRight(message, "\n")
	}
	sha := r.objects.putCommit(commitData{Tree: tree, Parents: parents, Author: author, Committer: committer, Message: msg})
	f.closeMerged(r, pr, actor, base, head, sha, now)
	return sha, nil
}

// closeMerged moves the base branch to a merge's last commit (one push)
// and closes the pull request as merged.
func (f *Fake) closeMerged(r *repo, pr *PullRequest, actor *User, base, head, sha string, now time.Time) {
	pr.HeadSHA, pr.BaseSHA = head, base
	pr.Merged, pr.MergedAt, pr.MergedBy, pr.MergeCommitSHA = true, now, actor.Login, sha
	f.setRef(r, "refs/heads/"+pr.Base, sha, actor)
	is := pr.issue
	is.State, is.ClosedAt, is.ClosedBy, is.UpdatedAt = "closed", now, actor.Login, now
	is.Events = append(is.Events,
		&IssueEvent{ID: f.id(), Event: "merged", Actor: actor.Login, CommitID: sha, CreatedAt: now},
		&IssueEvent{ID: f.id(), Event: "closed", Actor: actor.Login, CommitID: sha, CreatedAt: now})
	f.emitPull(r, pr, "closed", actor, nil)
	if pr.Base == r.defaultBranch {
		f.closeLinkedIssues(r, pr, actor, sha)
	}
	f.leaveQueue(r, pr, actor, "")
}

// rebaseMerge replays the pull request's commits on the base branch as new
// commits (committed by the merger) and fast-forwards the base to the
// last, which becomes merge_commit_sha. A commit that does not apply
// cleanly, or a result other than a merge's, refuses the merge.
func (f *Fake) rebaseMerge(r *repo, pr *PullRequest, actor *User, base, head string, merged map[string]fileEntry, now time.Time) (string, error) {
	steps, ok := f.replay(r, base, head, merged)
	if !ok {
		return "", &apiError{status: http.StatusMethodNotAllowed, msg: "This branch can't be rebased"}
	}
	shas, err := f.rebaseCommits(r, base, steps, Signature{Name: actor.Login, Email: noreplyEmail(actor), Date: now})
	if err != nil {
		return "", &apiError{status: http.StatusInternalServerError, msg: err.Error()}
	}
	pr.RebasedSHAs = shas
	sha := shas[len(shas)-1]
	f.closeMerged(r, pr, actor, base, head, sha, now)
	return sha, nil
}

// closingRE matches GitHub's closing keywords: "Closes #12", "fixes #3", ...
var closingRE = regexp.MustCompile(`(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b`)

// closeLinkedIssues closes the open issues a pull request merged into the
// default branch names with a closing keyword, as GitHub does.
func (f *Fake) closeLinkedIssues(r *repo, pr *PullRequest, actor *User, mergeSHA string) {
	now := f.now()
	for _, m := range closingRE.FindAllStringSubmatch(pr.issue.Title+"\n"+pr.issue.Body, -1) {
		n, _ := strconv.Atoi(m[1])
		is := r.issues[n]
		if is == nil || is.IsPR || is.State != "open" {
			continue
		}
		is.State, is.StateReason, is.ClosedAt, is.ClosedBy, is.UpdatedAt = "closed", "completed", now, actor.Login, now
		is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: "closed", Actor: actor.Login, CommitID: mergeSHA, CreatedAt: now})
		f.emitIssue(r, is, "closed", actor, nil)
	}
}

func noreplyEmail(u *User) string {
	if u.Email != "" {
		return u.Email
	}
	return fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)
}

// openPull opens a pull request from head into base (branches of r). head may
// be "owner:branch". Callers hold f.mu.
func (f *Fake) openPull(r *repo, actor *User, title, body, head, base string, draft bool) (*PullRequest, error) {
	switch {
	case strings.TrimSpace(title) == "":
		return nil, missingField("PullRequest", "title")
	case head == "":
		return nil, missingField("PullRequest", "head")
	case base == "":
		return nil, missingField("PullRequest", "base")
	}
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, r.owner.Login) {
			return nil, invalidField("PullRequest", "head")
		}
		head = branch
	}
	headSHA, baseSHA := r.branchSHA(head), r.branchSHA(base)
	if headSHA == "" {
		return nil, invalidField("PullRequest", "head")
	}
	if baseSHA == "" {
		return nil, invalidField("PullRequest", "base")
	}
	if r.openPullFor(head, base) != nil {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
			errs: []any{obj{"resource": "PullRequest", "code": "custom", "message": fmt.Sprintf("A pull request already exists for %s:%s.", r.owner.Login, head)}}}
	}
	if r.objects.isAncestor(headSHA, baseSHA) {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
			errs: []any{obj{"resource": "PullRequest", "code": "custom", "message": fmt.Sprintf("No commits between %s and %s", base, head)}}}
	}
	now := f.now()
	is := &Issue{ID: f.id(), Number: r.nextNumber, Title: title, Body: body, User: actor.Login,
		State: "open", IsPR: true, CreatedAt: now, UpdatedAt: now}
	r.nextNumber++
	r.issues[is.Number] = is
	pr := &PullRequest{ID: f.id(), Number: is.Number, Head: head, Base: base, HeadSHA: headSHA, BaseSHA: baseSHA, Draft: draft, issue: is}
	r.pulls[pr.Number] = pr
	f.emitPull(r, pr, "opened", actor, nil)
	return pr, nil
}

func invalidField(resource, field string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
		errs: []any{obj{"resource": resource, "code": "invalid", "field": field}}}
}

// PullEdit is a change to a pull request; nil fields stay as they are.
type PullEdit struct {
	Title *string
	Body  *string
	State *string
	Base  *string
}

func (f *Fake) updatePullOp(r *repo, pr *PullRequest, actor *User, e PullEdit) error {
	if e.Base != nil && *e.Base != pr.Base {
		sha := r.branchSHA(*e.Base)
		if sha == "" {
			return invalidField("PullRequest", "base")
		}
		from, fromSHA := pr.Base, r.branchSHA(pr.Base)
		f.leaveQueue(r, pr, actor, dequeueUnknown)
		pr.Base, pr.BaseSHA = *e.Base, sha
		now := f.now()
		pr.issue.UpdatedAt = now
		pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "base_ref_changed", Actor: actor.Login, From: from, To: *e.Base, CreatedAt: now})
		f.emitPull(r, pr, "edited", actor, obj{"changes": obj{"base": obj{"ref": obj{"from": from}, "sha": obj{"from": fromSHA}}}})
	}
	return f.editIssueOp(r, pr.issue, actor, IssueEdit{Title: e.Title, Body: e.Body, State: e.State})
}

// submitReview records a review on the current head (or commitID) and sends
// pull_request_review submitted; event "" leaves a PENDING review.
func (f *Fake) submitReview(r *repo, pr *PullRequest, actor *User, event, body, commitID string) (*Review, error) {
	state := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}[event]
	if state == "" {
		return nil, invalidField("PullRequestReview", "event")
	}
	own := strings.EqualFold(actor.Login, pr.issue.User)
	switch {
	case own && state == "APPROVED":
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", errs: []any{reviewErr("Can not approve your own pull request")}}
	case own && state == "CHANGES_REQUESTED":
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", errs: []any{reviewErr("Can not request changes on your own pull request")}}
	case (state == "CHANGES_REQUESTED" || state == "COMMENTED") && strings.TrimSpace(body) == "":
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", errs: []any{reviewErr("Body can't be blank")}}
	}
	head, _ := f.pullSHAs(r, pr)
	if commitID == "" {
		commitID = head
	} else if o, ok := r.objects.get(commitID); !ok || o.typ != objCommit {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", errs: []any{reviewErr("Commit SHA does not exist")}}
	}
	rv := &Review{ID: f.id(), PRNumber: pr.Number, User: actor.Login, State: state, Body: body, CommitID: strings.ToLower(commitID)}
	if state != "PENDING" {
		rv.SubmittedAt = f.now()
		// A submitted review answers the request for it.
		pr.RequestedReviewers = slices.DeleteFunc(pr.RequestedReviewers, func(l string) bool { return strings.EqualFold(l, actor.Login) })
	}
	pr.Reviews = append(pr.Reviews, rv)
	if state != "PENDING" {
		f.emitReview(r, pr, rv, "submitted", actor, nil)
	}
	return rv, nil
}

// dismissReviewOp dismisses a review as a person with write access would.
func (f *Fake) dismissReviewOp(r *repo, pr *PullRequest, rv *Review, actor *User, message string) error {
	if rv.State != "APPROVED" && rv.State != "CHANGES_REQUESTED" {
		return &apiError{status: http.StatusUnprocessableEntity, msg: "Can not dismiss a " + strings.ToLower(strings.ReplaceAll(rv.State, "_", " ")) + " pull request review"}
	}
	if strings.TrimSpace(message) == "" {
		return missingField("PullRequestReview", "message")
	}
	if err := f.requireRole(r, actor, "write"); err != nil {
		return err
	}
	f.dismiss(r, pr, rv, actor, message)
	return nil
}

// dismiss marks a review DISMISSED, logs review_dismissed on the pull
// request and sends pull_request_review dismissed.
func (f *Fake) dismiss(r *repo, pr *PullRequest, rv *Review, actor *User, message string) {
	was := rv.State
	rv.State = "DISMISSED"
	now := f.now()
	pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "review_dismissed", Actor: actor.Login,
		DismissedReviewID: rv.ID, DismissedState: strings.ToLower(was), DismissalMessage: message, CreatedAt: now})
	f.emitReview(r, pr, rv, "dismissed", actor, nil)
}

// editReviewOp changes a submitted review's body (its author only) and
// sends pull_request_review edited.
func (f *Fake) editReviewOp(r *repo, pr *PullRequest, rv *Review, actor *User, body string) error {
	if !strings.EqualFold(rv.User, actor.Login) {
		return &apiError{status: http.StatusForbidden, msg: "You can only edit your own reviews."}
	}
	if strings.TrimSpace(body) == "" {
		return &apiError{status: http.StatusUnprocessableEntity, msg: "Unprocessable Entity", errs: []any{reviewErr("Body can't be blank")}}
	}
	if body == rv.Body {
		return nil
	}
	from := rv.Body
	rv.Body = body
	if rv.State != "PENDING" {
		f.emitReview(r, pr, rv, "edited", actor, obj{"body": obj{"from": from}})
	}
	return nil
}

func reviewErr(msg string) obj {
	return obj{"resource": "PullRequestReview", "code": "custom", "message": msg}
}
