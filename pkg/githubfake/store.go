package githubfake

import (
	"crypto/rsa"
	"strings"
	"time"
)

// User is a GitHub account: a person (Type "User"), an App's bot ("Bot") or
// an organisation ("Organization").
type User struct {
	ID      int64
	Login   string
	Type    string
	Name    string
	Email   string
	created time.Time
}

// org is an organisation: its account, members, owners, pending
// invitations and teams.
type org struct {
	account *User
	members map[string]bool
	owners  map[string]bool   // organisation owners (also members)
	invited map[string]string // pending invitations: login -> inviter
	teams   map[string]*team  // by slug
}

// team is an organisation team; members map login to role (member,
// maintainer), pending holds invited users who are not organisation members
// yet, parent is the parent team's slug ("" for a top-level team).
type team struct {
	ID      int64
	Slug    string
	Name    string
	Org     string
	parent  string
	members map[string]string
	pending map[string]string
	created time.Time
}

// App is a registered GitHub App.
type App struct {
	ID        int64
	Slug      string
	Name      string
	Owner     string
	PublicKey *rsa.PublicKey
	bot       *User
	created   time.Time
}

// installation is an App installed on an account, for all or some repositories.
type installation struct {
	ID      int64
	app     *App
	account *User
	repos   map[string]bool // full names; nil means all repositories of the account
	created time.Time
}

func (in *installation) covers(r *repo) bool {
	if !strings.EqualFold(r.owner.Login, in.account.Login) {
		return false
	}
	return in.repos == nil || in.repos[strings.ToLower(r.fullName())]
}

// Label is a repository label.
type Label struct {
	ID          int64
	Name        string
	Color       string
	Description string
	Default     bool
}

// IssueLabel is a label on an issue or pull request with who added it.
type IssueLabel struct {
	Name    string
	AddedBy string
	AddedAt time.Time
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID          int64
	IssueNumber int
	Body        string
	User        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// IssueEvent is an entry of an issue's event log (labeled, unlabeled, closed,
// reopened, merged, renamed).
type IssueEvent struct {
	ID        int64
	Event     string
	Actor     string
	Label     string // for labeled/unlabeled
	CommitID  string // for merged/closed by merge
	CreatedAt time.Time
	From, To  string // for renamed (title) and base_ref_changed (branch)
	// review_requested: who asked whom (a user or a team slug).
	ReviewRequester   string
	RequestedReviewer string
	RequestedTeam     string
	// review_dismissed: the review, its state before, the message.
	DismissedReviewID int64
	DismissedState    string
	DismissalMessage  string
}

// Issue is an issue or the issue half of a pull request (IsPR).
type Issue struct {
	ID          int64
	Number      int
	Title       string
	Body        string
	User        string
	State       string // open, closed
	StateReason string
	Labels      []IssueLabel
	Assignees   []string
	IsPR        bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
	ClosedBy    string
	Comments    []*Comment
	Events      []*IssueEvent
}

func (is *Issue) hasLabel(name string) bool {
	for _, l := range is.Labels {
		if strings.EqualFold(l.Name, name) {
			return true
		}
	}
	return false
}

// PullRequest is a pull request; its number, title, body, labels and
// comments live in its Issue.
type PullRequest struct {
	ID             int64
	Number         int
	Head           string // branch in the same repository
	Base           string
	HeadSHA        string
	BaseSHA        string
	Draft          bool
	Merged         bool
	MergedAt       time.Time
	MergedBy       string
	MergeCommitSHA string
	// RebasedSHAs are the commits a rebase merge wrote, oldest first
	// (MergeCommitSHA is the last).
	RebasedSHAs []string
	Reviews     []*Review
	// RequestedReviewers and RequestedTeams are pending review requests
	// (logins, team slugs).
	RequestedReviewers []string
	RequestedTeams     []string
	issue              *Issue
}

// Review is a pull request review.
type Review struct {
	ID          int64
	PRNumber    int
	User        string
	State       string // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
	Body        string
	CommitID    string
	SubmittedAt time.Time
}

// CheckRun is a check run on a commit.
type CheckRun struct {
	ID          int64
	SuiteID     int64
	AppID       int64
	Name        string
	HeadSHA     string
	Status      string // queued, in_progress, completed
	Conclusion  string
	DetailsURL  string
	ExternalID  string
	Title       string
	Summary     string
	Text        string
	StartedAt   time.Time
	CompletedAt time.Time
}

// Status is a commit status.
type Status struct {
	ID          int64
	SHA         string
	State       string // error, failure, pending, success
	Context     string
	Description string
	TargetURL   string
	Creator     string
	AppID       int64 // the App whose installation token created it (0: a user)
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// workflow is a workflow file the fake has seen in a repository.
type workflow struct {
	ID      int64
	Path    string
	Name    string
	created time.Time
}

// WorkflowRun is a run of a workflow.
type WorkflowRun struct {
	ID           int64
	WorkflowID   int64
	WorkflowPath string
	Name         string
	RunNumber    int
	Event        string
	Status       string // queued, in_progress, completed
	Conclusion   string
	HeadBranch   string
	HeadSHA      string
	Actor        string
	Inputs       map[string]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// DisplayTitle is the run's name: the workflow's run-name evaluated with
	// the run's inputs, or the workflow's name.
	DisplayTitle string
	// Attempt is run_attempt: 1, and one more per re-run.
	Attempt int
	// StartedAt is when the current attempt started (run_started_at).
	StartedAt time.Time
}

// repo is a repository with its git objects and everything GitHub hangs off it.
type repo struct {
	ID            int64
	owner         *User
	name          string
	private       bool
	defaultBranch string
	created       time.Time
	pushed        time.Time

	objects    *objectStore
	refs       map[string]string // full ref name -> commit id
	nextNumber int
	issues     map[int]*Issue
	pulls      map[int]*PullRequest
	labels     map[string]*Label // lower-case name -> label
	comments   map[int64]*Comment
	checkRuns  []*CheckRun
	statuses   []*Status
	workflows  map[string]*workflow // path -> workflow
	runs       []*WorkflowRun
	suites     map[string]int64 // "<app id>/<head sha>" -> check suite id

	perms      map[string]string      // login -> role set on the repository (see permission)
	protection map[string]*Protection // branch -> classic branch protection
	rulesets   []*Ruleset
	queues     map[string]*mergeQueue // base branch -> merge queue

	mergeMethods MergeMethods
}

func (r *repo) fullName() string { return r.owner.Login + "/" + r.name }

func newRepo(id int64, owner *User, name string, now time.Time) *repo {
	return &repo{
		ID: id, owner: owner, name: name, private: true, defaultBranch: "main",
		created: now, pushed: now,
		objects: newObjectStore(), refs: map[string]string{}, nextNumber: 1,
		issues: map[int]*Issue{}, pulls: map[int]*PullRequest{}, labels: map[string]*Label{},
		comments: map[int64]*Comment{}, workflows: map[string]*workflow{}, suites: map[string]int64{},
		perms: map[string]string{}, protection: map[string]*Protection{}, queues: map[string]*mergeQueue{},
		mergeMethods: MergeMethods{Merge: true, Squash: true, Rebase: true},
	}
}

// branchSHA returns the tip of a branch, or "" when it does not exist.
func (r *repo) branchSHA(branch string) string {
	return r.refs["refs/heads/"+branch]
}

// resolve turns a branch, tag, full ref or (abbreviated) commit id into a commit id.
func (r *repo) resolve(ref string) (string, bool) {
	if ref == "" {
		ref = r.defaultBranch
	}
	for _, cand := range []string{ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if sha, ok := r.refs[cand]; ok {
			return sha, true
		}
	}
	ref = strings.ToLower(ref)
	if len(ref) == 40 {
		if o, ok := r.objects.get(ref); ok && o.typ == objCommit {
			return ref, true
		}
		return "", false
	}
	if len(ref) >= 7 && isHex(ref) {
		for id, o := range r.objects.objects {
			if o.typ == objCommit && strings.HasPrefix(id, ref) {
				return id, true
			}
		}
	}
	return "", false
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// label returns the repository label with that name (any case).
func (r *repo) label(name string) *Label { return r.labels[strings.ToLower(name)] }

// openPullFor returns the open pull request for head into base, if any.
func (r *repo) openPullFor(head, base string) *PullRequest {
	for _, pr := range r.pulls {
		if pr.issue.State == "open" && pr.Head == head && (base == "" || pr.Base == base) {
			return pr
		}
	}
	return nil
}
