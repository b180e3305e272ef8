package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The merge queue of a branch whose ruleset has a merge_queue rule.
//
// Each entry's merge group is a commit on a temporary branch
// gh-readonly-queue/<base>/pr-<n>-<sha of what it was built on>: the pull
// request merged onto the previous group (or the base tip), so the group of
// entry i holds entries 0..i. GitHub is asked for the base's required checks
// on the group's head (merge_group checks_requested). When the checks of a
// prefix of groups pass (every group for ALLGREEN, the last one for
// HEADGREEN), the base fast-forwards to the last of them and their pull
// requests are merged; a failing group is dequeued and the groups after it
// are rebuilt (merge_group destroyed: dequeued, invalidated, merged).

// Reasons a pull request leaves the queue (pull_request dequeued).
const (
	dequeueManual   = "MANUAL"
	dequeueConflict = "MERGE_CONFLICT"
	dequeueFailure  = "CI_FAILURE"
	dequeueTimeout  = "CI_TIMEOUT"
	dequeueUnknown  = "UNKNOWN_REMOVAL_REASON" // the head moved, the pull request closed, its base changed
)

// QueueBot is the account the merge queue acts as (its pushes, merge_group events).
const QueueBot = "github-merge-queue[bot]"

type mergeQueue struct {
	base    string
	entries []*queueEntry
	moving  bool // the queue itself is moving the base
}

type queueEntry struct {
	pr        *PullRequest
	by        string // who added it
	at        time.Time
	groupSHA  string // "" until its group is built
	groupBase string // what the group was built on
	ref       string
	builtAt   time.Time
}

// QueueEntry is a pull request in a merge queue, as MergeQueue lists it.
type QueueEntry struct {
	Number     int
	EnqueuedBy string
	EnqueuedAt time.Time
	// GroupSHA, GroupRef and GroupBase describe its merge group ("" until built).
	GroupSHA  string
	GroupRef  string
	GroupBase string
}

func (f *Fake) queueBot() *User {
	u := f.user(QueueBot)
	u.Type = "Bot"
	return u
}

func (q *mergeQueue) index(pr *PullRequest) int {
	return slices.IndexFunc(q.entries, func(e *queueEntry) bool { return e.pr == pr })
}

// enqueue adds a pull request to its base's merge queue as actor. Callers hold f.mu.
func (f *Fake) enqueue(r *repo, pr *PullRequest, actor *User) error {
	refuse := func(msg string) error { return &apiError{status: http.StatusUnprocessableEntity, msg: msg} }
	if pr.Merged || pr.issue.State != "open" {
		return refuse("Pull request is closed")
	}
	if err := f.requireRole(r, actor, "write"); err != nil {
		return err
	}
	if rule, _ := r.mergeQueueRule(pr.Base); rule == nil {
		return refuse(fmt.Sprintf("Merge queue is not enabled on %s", pr.Base))
	}
	q := r.queues[pr.Base]
	if q == nil {
		q = &mergeQueue{base: pr.Base}
		r.queues[pr.Base] = q
	}
	if q.index(pr) >= 0 {
		return refuse("Pull request is already in the merge queue")
	}
	if len(f.pullState(r, pr).conflicts) > 0 {
		return refuse("Pull request is not mergeable")
	}
	head, _ := f.pullSHAs(r, pr)
	if b := f.mergeBlocker(r, pr, head, nil, true); b != nil {
		return refuse(b.msg)
	}
	now := f.now()
	q.entries = append(q.entries, &queueEntry{pr: pr, by: actor.Login, at: now})
	pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "added_to_merge_queue", Actor: actor.Login, CreatedAt: now})
	f.emitPull(r, pr, "enqueued", actor, nil)
	f.runQueue(r, q)
	return nil
}

// leaveQueue takes a pull request out of its queue, if it is in one. A
// non-empty reason is reported (removed_from_merge_queue, pull_request
// dequeued); its group is destroyed and the groups after it are rebuilt.
// Callers hold f.mu.
func (f *Fake) leaveQueue(r *repo, pr *PullRequest, actor *User, reason string) {
	q := r.queues[pr.Base]
	if q == nil {
		return
	}
	if i := q.index(pr); i >= 0 {
		f.removeEntry(r, q, i, actor, reason)
		f.runQueue(r, q)
	}
}

// removeEntry is leaveQueue without running the queue afterwards.
func (f *Fake) removeEntry(r *repo, q *mergeQueue, i int, actor *User, reason string) {
	e := q.entries[i]
	pr := e.pr
	q.entries = slices.Delete(q.entries, i, i+1)
	if reason != "" {
		pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "removed_from_merge_queue", Actor: actor.Login, CreatedAt: f.now()})
		f.emitPull(r, pr, "dequeued", actor, obj{"reason": reason})
	}
	f.destroyGroup(r, e, "dequeued")
	for _, later := range q.entries[i:] {
		f.destroyGroup(r, later, "invalidated")
	}
}

// destroyGroup sends merge_group destroyed and deletes the group's branch.
func (f *Fake) destroyGroup(r *repo, e *queueEntry, reason string) {
	if e.groupSHA == "" {
		return
	}
	f.emitMergeGroup(r, e, "destroyed", obj{"reason": reason})
	ref := e.ref
	e.groupSHA, e.groupBase, e.ref = "", "", ""
	f.setRef(r, ref, "", f.queueBot())
}

// baseMoved rebuilds a queue whose base branch moved under it (a direct
// merge or push by someone allowed to bypass the queue). Callers hold f.mu.
func (f *Fake) baseMoved(r *repo, branch string, actor *User) {
	q := r.queues[branch]
	if q == nil || q.moving {
		return
	}
	for _, e := range q.entries {
		f.destroyGroup(r, e, "invalidated")
	}
	f.runQueue(r, q)
}

// runQueue builds missing groups and merges or dequeues what the checks
// decided, until nothing changes. Callers hold f.mu.
func (f *Fake) runQueue(r *repo, q *mergeQueue) {
	for {
		rule, _ := r.mergeQueueRule(q.base)
		if rule == nil {
			return
		}
		// A pull request merged or closed meanwhile leaves without a word
		// (its own events said it).
		if i := slices.IndexFunc(q.entries, func(e *queueEntry) bool { return e.pr.Merged || e.pr.issue.State != "open" }); i >= 0 {
			f.removeEntry(r, q, i, f.queueBot(), "")
			continue
		}
		if f.buildGroups(r, q, *rule) {
			continue
		}
		failed, reason := -1, ""
		var states []string
		for i, e := range q.entries {
			if e.groupSHA == "" {
				break
			}
			st := f.groupState(r, q, e, *rule)
			if st == checkFailure || st == dequeueTimeout {
				failed, reason = i, dequeueFailure
				if st == dequeueTimeout {
					reason = dequeueTimeout
				}
				break
			}
			states = append(states, st)
		}
		if failed >= 0 {
			f.removeEntry(r, q, failed, f.queueBot(), reason)
			continue
		}
		k := 0
		for i := 0; i < len(states) && i < rule.MaxEntriesToMerge; i++ {
			if states[i] == checkSuccess {
				k = i + 1
			} else if rule.GroupingStrategy == "ALLGREEN" {
				break
			}
		}
		if k == 0 || k < rule.MinEntriesToMerge {
			return
		}
		f.mergeGroups(r, q, k)
	}
}

// groupState is the result of the base's required checks on a group:
// success, pending, failure, or dequeueTimeout when checks are still missing
// after the rule's timeout. No required check: success at once.
func (f *Fake) groupState(r *repo, q *mergeQueue, e *queueEntry, rule MergeQueueRule) string {
	state := checkSuccess
	for _, rc := range r.requiredChecks(q.base) {
		switch f.checkState(r, e.groupSHA, rc) {
		case checkFailure:
			return checkFailure
		case checkPending, checkExpected:
			state = checkPending
		}
	}
	if state == checkPending && f.now().Sub(e.builtAt) >= time.Duration(rule.CheckResponseTimeoutMinutes)*time.Minute {
		return dequeueTimeout
	}
	return state
}

// buildGroups builds the first unbuilt group within MaxEntriesToBuild and
// reports whether the queue changed (a group built, or an entry dequeued
// because it conflicts with the entries ahead of it).
func (f *Fake) buildGroups(r *repo, q *mergeQueue, rule MergeQueueRule) bool {
	prev := r.branchSHA(q.base)
	for i, e := range q.entries {
		if i >= rule.MaxEntriesToBuild {
			return false
		}
		if e.groupSHA != "" {
			prev = e.groupSHA
			continue
		}
		head, _ := f.pullSHAs(r, e.pr)
		mb := r.objects.mergeBase(prev, head)
		merged, conflicts := mergeTrees(r.objects, f.commitFiles(r, mb), f.commitFiles(r, prev), f.commitFiles(r, head))
		if len(conflicts) > 0 || mb == "" {
			f.removeEntry(r, q, i, f.queueBot(), dequeueConflict)
			return true
		}
		tree, err := r.objects.buildTree(merged)
		if err != nil {
			f.log.Error("githubfake: merge group tree", "err", err)
			f.removeEntry(r, q, i, f.queueBot(), dequeueConflict)
			return true
		}
		now := f.now()
		author := f.user(e.pr.issue.User)
		parents := []string{prev, head}
		msg := fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", e.pr.Number, r.owner.Login, e.pr.Head, e.pr.issue.Title)
		if rule.MergeMethod == "SQUASH" {
			parents = []string{prev}
			msg = fmt.Sprintf("%s (#%d)", e.pr.issue.Title, e.pr.Number)
		}
		sha := r.objects.putCommit(commitData{Tree: tree, Parents: parents,
			Author:    Signature{Name: author.Login, Email: noreplyEmail(author), Date: now},
			Committer: Signature{Name: "GitHub", Email: "noreply@github.com", Date: now}, Message: msg})
		e.groupSHA, e.groupBase, e.builtAt = sha, prev, now
		e.ref = fmt.Sprintf("refs/heads/gh-readonly-queue/%s/pr-%d-%s", q.base, e.pr.Number, prev)
		f.setRef(r, e.ref, sha, f.queueBot())
		f.emitMergeGroup(r, e, "checks_requested", nil)
		return true
	}
	return false
}

// mergeGroups fast-forwards the base to the k-th group and merges the pull
// requests of the first k entries.
func (f *Fake) mergeGroups(r *repo, q *mergeQueue, k int) {
	done := slices.Clone(q.entries[:k])
	q.entries = slices.Delete(q.entries, 0, k)
	q.moving = true
	f.setRef(r, "refs/heads/"+q.base, done[k-1].groupSHA, f.queueBot())
	q.moving = false
	now := f.now()
	for _, e := range done {
		pr, by := e.pr, f.user(e.by)
		pr.HeadSHA, pr.BaseSHA = f.pullSHAs(r, pr)
		pr.Merged, pr.MergedAt, pr.MergedBy, pr.MergeCommitSHA = true, now, by.Login, e.groupSHA
		is := pr.issue
		is.State, is.ClosedAt, is.ClosedBy, is.UpdatedAt = "closed", now, by.Login, now
		is.Events = append(is.Events,
			&IssueEvent{ID: f.id(), Event: "merged", Actor: by.Login, CommitID: e.groupSHA, CreatedAt: now},
			&IssueEvent{ID: f.id(), Event: "closed", Actor: by.Login, CommitID: e.groupSHA, CreatedAt: now})
		f.emitPull(r, pr, "closed", by, nil)
		if pr.Base == r.defaultBranch {
			f.closeLinkedIssues(r, pr, by, e.groupSHA)
		}
		f.destroyGroup(r, e, "merged")
	}
}

// checksChanged lets the merge queues of a repository act on new check
// results. Callers hold f.mu.
func (f *Fake) checksChanged(r *repo) {
	for _, b := range sortedQueueBases(r) {
		f.runQueue(r, r.queues[b])
	}
}

func sortedQueueBases(r *repo) []string {
	var out []string
	for b := range r.queues {
		out = append(out, b)
	}
	slices.Sort(out)
	return out
}

// emitMergeGroup sends merge_group as the queue.
func (f *Fake) emitMergeGroup(r *repo, e *queueEntry, action string, extra obj) {
	c, err := r.objects.commit(e.groupSHA)
	if err != nil {
		return
	}
	sig := func(s Signature) obj { return obj{"name": s.Name, "email": s.Email} }
	body := obj{"merge_group": obj{
		"head_sha": e.groupSHA, "head_ref": e.ref, "base_sha": e.groupBase, "base_ref": "refs/heads/" + e.pr.Base,
		"head_commit": obj{"id": e.groupSHA, "tree_id": c.Tree, "message": c.Message, "timestamp": ts(c.Committer.Date),
			"author": sig(c.Author), "committer": sig(c.Committer)},
	}}
	for k, v := range extra {
		body[k] = v
	}
	f.emit(r, "merge_group", action, f.queueBot(), body)
}
