package githubfake

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"
)

// Inspecting state. Everything returned is a copy.

// File returns a file's content at a ref (branch, tag or commit).
func (f *Fake) File(repoName, ref, path string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil, err
	}
	sha, ok := r.resolve(ref)
	if !ok {
		return nil, fmt.Errorf("githubfake: no ref %s in %s", ref, repoName)
	}
	fe, ok := f.commitFiles(r, sha)[strings.Trim(path, "/")]
	if !ok {
		return nil, fmt.Errorf("githubfake: no file %s at %s in %s: %w", path, ref, repoName, fs.ErrNotExist)
	}
	o, _ := r.objects.get(fe.SHA)
	return slices.Clone(o.data), nil
}

// Files lists every file path at a ref, sorted.
func (f *Fake) Files(repoName, ref string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil, err
	}
	sha, ok := r.resolve(ref)
	if !ok {
		return nil, fmt.Errorf("githubfake: no ref %s in %s", ref, repoName)
	}
	var out []string
	for p := range f.commitFiles(r, sha) {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// BranchSHA returns a branch's tip ("" when the branch does not exist).
func (f *Fake) BranchSHA(repoName, branch string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return ""
	}
	return r.branchSHA(branch)
}

// CommitInfo is a commit as Commits lists it.
type CommitInfo struct {
	SHA       string
	Tree      string
	Parents   []string
	Message   string
	Author    Signature
	Committer Signature
}

// Commits lists the commits reachable from ref, newest first.
func (f *Fake) Commits(repoName, ref string) ([]CommitInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil, err
	}
	tip, ok := r.resolve(ref)
	if !ok {
		return nil, fmt.Errorf("githubfake: no ref %s in %s", ref, repoName)
	}
	var out []CommitInfo
	for _, id := range r.objects.history(tip, 0) {
		c, _ := r.objects.commit(id)
		out = append(out, CommitInfo{SHA: id, Tree: c.Tree, Parents: c.Parents, Message: c.Message, Author: c.Author, Committer: c.Committer})
	}
	return out, nil
}

func copyIssue(is *Issue) Issue {
	out := *is
	out.Labels = slices.Clone(is.Labels)
	out.Assignees = slices.Clone(is.Assignees)
	out.Comments = nil
	for _, c := range is.Comments {
		cc := *c
		out.Comments = append(out.Comments, &cc)
	}
	out.Events = nil
	for _, e := range is.Events {
		ec := *e
		out.Events = append(out.Events, &ec)
	}
	return out
}

// Issue returns an issue (or a pull request's issue) by number.
func (f *Fake) Issue(repoName string, number int) (Issue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return Issue{}, err
	}
	is, err := issueIn(r, number)
	if err != nil {
		return Issue{}, fmt.Errorf("githubfake: %w", err)
	}
	return copyIssue(is), nil
}

// Issues lists issues and pull requests' issues by number.
func (f *Fake) Issues(repoName string) []Issue {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil
	}
	var out []Issue
	for n := 1; n < r.nextNumber; n++ {
		if is := r.issues[n]; is != nil {
			out = append(out, copyIssue(is))
		}
	}
	return out
}

// PullInfo is a pull request with its issue and current state.
type PullInfo struct {
	PullRequest
	Issue          Issue
	Mergeable      bool
	MergeableState string
}

func (f *Fake) pullInfo(r *repo, pr *PullRequest) PullInfo {
	out := PullInfo{PullRequest: *pr, Issue: copyIssue(pr.issue)}
	out.HeadSHA, out.BaseSHA = f.pullSHAs(r, pr)
	out.Reviews = nil
	for _, rv := range pr.Reviews {
		c := *rv
		out.Reviews = append(out.Reviews, &c)
	}
	out.issue = nil
	out.RebasedSHAs = slices.Clone(pr.RebasedSHAs)
	st := f.pullState(r, pr)
	out.Mergeable, _ = st.mergeable.(bool)
	out.MergeableState = st.state
	return out
}

// PullRequest returns a pull request by number.
func (f *Fake) PullRequest(repoName string, number int) (PullInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return PullInfo{}, err
	}
	pr, err := pullIn(r, number)
	if err != nil {
		return PullInfo{}, fmt.Errorf("githubfake: %w", err)
	}
	return f.pullInfo(r, pr), nil
}

// PullRequests lists all pull requests by number.
func (f *Fake) PullRequests(repoName string) []PullInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil
	}
	var out []PullInfo
	for n := 1; n < r.nextNumber; n++ {
		if pr := r.pulls[n]; pr != nil {
			out = append(out, f.pullInfo(r, pr))
		}
	}
	return out
}

// Comments lists an issue's or pull request's comments, oldest first.
func (f *Fake) Comments(repoName string, number int) []Comment {
	is, err := f.Issue(repoName, number)
	if err != nil {
		return nil
	}
	var out []Comment
	for _, c := range is.Comments {
		out = append(out, *c)
	}
	return out
}

// Labels lists the labels on an issue or pull request with who added them.
func (f *Fake) Labels(repoName string, number int) []IssueLabel {
	is, err := f.Issue(repoName, number)
	if err != nil {
		return nil
	}
	return is.Labels
}

// Reviews lists a pull request's reviews, oldest first.
func (f *Fake) Reviews(repoName string, number int) []Review {
	pr, err := f.PullRequest(repoName, number)
	if err != nil {
		return nil
	}
	var out []Review
	for _, rv := range pr.Reviews {
		out = append(out, *rv)
	}
	return out
}

// CheckRuns lists the check runs on the commit ref resolves to, oldest first.
func (f *Fake) CheckRuns(repoName, ref string) []CheckRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil
	}
	sha, _ := r.resolve(ref)
	var out []CheckRun
	for _, cr := range r.checkRuns {
		if cr.HeadSHA == sha {
			out = append(out, *cr)
		}
	}
	return out
}

// Statuses lists the commit statuses on the commit ref resolves to, oldest first.
func (f *Fake) Statuses(repoName, ref string) []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil
	}
	sha, _ := r.resolve(ref)
	var out []Status
	for _, s := range r.statuses {
		if s.SHA == sha {
			out = append(out, *s)
		}
	}
	return out
}

// WorkflowRuns lists a repository's workflow runs, oldest first.
func (f *Fake) WorkflowRuns(repoName string) []WorkflowRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return nil
	}
	var out []WorkflowRun
	for _, run := range r.runs {
		c := *run
		c.Inputs = map[string]any{}
		for k, v := range run.Inputs {
			c.Inputs[k] = v
		}
		out = append(out, c)
	}
	return out
}

// Events lists every webhook event emitted so far, in order.
func (f *Fake) Events() []Event {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	return slices.Clone(f.hooks.events)
}

// Deliveries lists every delivery attempt, in order.
func (f *Fake) Deliveries() []Delivery { return f.hooks.snapshot() }

// DropWebhooks makes the next n deliveries (of the named events, or of any
// event) fail without being sent; they are logged and can be redelivered.
func (f *Fake) DropWebhooks(n int, events ...string) {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	rule := dropRule{n: n, events: map[string]bool{}}
	for _, e := range events {
		rule.events[e] = true
	}
	f.hooks.drops = append(f.hooks.drops, rule)
}

// Redeliver queues a new attempt of a logged delivery, like the App
// settings' "Redeliver" button.
func (f *Fake) Redeliver(deliveryID int64) error {
	if _, ok := f.hooks.redeliver(deliveryID); !ok {
		return fmt.Errorf("githubfake: no delivery %d", deliveryID)
	}
	return nil
}

// WaitIdle waits until every queued webhook delivery has been sent and
// answered (or ctx ends).
func (f *Fake) WaitIdle(ctx context.Context) error { return f.hooks.wait(ctx) }

// Quiesce is WaitIdle with a timeout.
func (f *Fake) Quiesce(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return f.WaitIdle(ctx)
}

// InjectFault adds a fault (5xx, latency) for matching routes.
func (f *Fake) InjectFault(ft Fault) { f.faults.add(ft) }

// ClearFaults removes every injected fault.
func (f *Fake) ClearFaults() { f.faults.clear() }

// Calls returns request counts by route key ("GET /repos/{owner}/{repo}/pulls").
func (f *Fake) Calls() map[string]int {
	out := map[string]int{}
	for k, m := range f.stats.snapshot() {
		for _, n := range m {
			out[k] += n
		}
	}
	return out
}

// CallsByStatus returns request counts by route key and status code.
func (f *Fake) CallsByStatus() map[string]map[int]int { return f.stats.snapshot() }

// CallCount is the number of requests to one route key.
func (f *Fake) CallCount(key string) int { return f.Calls()[key] }

// TotalCalls is the number of requests to all routes.
func (f *Fake) TotalCalls() int {
	n := 0
	for _, c := range f.Calls() {
		n += c
	}
	return n
}

// ResetCalls zeroes the call counters.
func (f *Fake) ResetCalls() { f.stats.reset() }

// Routes lists every route key the fake serves, sorted.
func (f *Fake) Routes() []string { return f.router.routeKeys() }

// SeedLabels creates repository labels, as a repository that has used
// rdsbot before has them.
func (f *Fake) SeedLabels(repoName string, names ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	for _, n := range names {
		f.ensureLabel(r, n)
	}
	return nil
}
