package githubfake

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Seeding: accounts, teams, repositories, Apps and installations. Seeding
// emits no webhooks.

// AddUser registers a user account (idempotent) and returns it.
func (f *Fake) AddUser(login string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.user(login)
}

// AddBot registers a bot account such as "dependabot[bot]" (idempotent).
func (f *Fake) AddBot(login string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.user(login)
	u.Type = "Bot"
	return *u
}

// AddOrg registers an organisation with members (idempotent).
func (f *Fake) AddOrg(login string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(login)]
	if o == nil {
		acct := f.user(login)
		acct.Type = "Organization"
		o = &org{account: acct, members: map[string]bool{}, teams: map[string]*team{}}
		f.orgs[strings.ToLower(login)] = o
	}
	for _, m := range members {
		f.user(m)
		o.members[strings.ToLower(m)] = true
	}
}

// AddTeam creates a team (slug) in an organisation, creating the
// organisation if needed, with members (role "member"); members also
// become organisation members.
func (f *Fake) AddTeam(orgLogin, slug string, members ...string) {
	f.AddOrg(orgLogin)
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(orgLogin)]
	t := o.teams[strings.ToLower(slug)]
	if t == nil {
		t = &team{ID: f.id(), Slug: strings.ToLower(slug), Name: slug, Org: o.account.Login, members: map[string]string{}}
		o.teams[t.Slug] = t
	}
	for _, m := range members {
		f.user(m)
		t.members[strings.ToLower(m)] = "member"
		o.members[strings.ToLower(m)] = true
	}
}

// SetTeamMember adds a member with a role ("member" or "maintainer"), or
// removes them when role is "".
func (f *Fake) SetTeamMember(orgLogin, slug, login, role string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(orgLogin)]
	if o == nil || o.teams[strings.ToLower(slug)] == nil {
		return fmt.Errorf("githubfake: no team %s/%s", orgLogin, slug)
	}
	t := o.teams[strings.ToLower(slug)]
	if role == "" {
		delete(t.members, strings.ToLower(login))
		return nil
	}
	f.user(login)
	t.members[strings.ToLower(login)] = role
	o.members[strings.ToLower(login)] = true
	return nil
}

// AddRepo creates "owner/name" with files (path -> content) committed on
// "main" by the owner and returns the commit id. The owner account is
// created as a user if it does not exist yet.
func (f *Fake) AddRepo(fullName string, files map[string]string) (string, error) {
	m := map[string]fileEntry{}
	f.mu.Lock()
	defer f.mu.Unlock()
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("githubfake: repository name %q must be owner/name", fullName)
	}
	if f.repos[strings.ToLower(fullName)] != nil {
		return "", fmt.Errorf("githubfake: repository %s exists", fullName)
	}
	r := newRepo(f.id(), f.user(owner), name, f.now())
	for p, content := range files {
		m[strings.Trim(p, "/")] = fileEntry{Mode: modeFile, SHA: r.objects.putBlob([]byte(content))}
	}
	return f.seedRepo(r, m)
}

// AddRepoFromDir creates "owner/name" from the files under dir (skipping
// .git), keeping the executable bit, and returns the initial commit id.
func (f *Fake) AddRepoFromDir(fullName, dir string) (string, error) {
	files := map[string]string{}
	modes := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		files[rel] = string(data)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			modes[rel] = modeExec
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("githubfake: read %s: %w", dir, err)
	}
	sha, err := f.AddRepo(fullName, files)
	if err != nil || len(modes) == 0 {
		return sha, err
	}
	// Re-commit with executable modes: rebuild the tree with them.
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[strings.ToLower(fullName)]
	flat := f.commitFiles(r, sha)
	for p, mode := range modes {
		e := flat[p]
		e.Mode = mode
		flat[p] = e
	}
	delete(r.refs, "refs/heads/"+r.defaultBranch)
	return f.seedRepo(r, flat)
}

// seedRepo writes the initial commit and registers the repository. Callers hold f.mu.
func (f *Fake) seedRepo(r *repo, files map[string]fileEntry) (string, error) {
	tree, err := r.objects.buildTree(files)
	if err != nil {
		return "", fmt.Errorf("githubfake: %w", err)
	}
	sig := Signature{Name: r.owner.Login, Email: noreplyEmail(r.owner), Date: f.now()}
	sha := r.objects.putCommit(commitData{Tree: tree, Author: sig, Committer: sig, Message: "Initial commit\n"})
	r.refs["refs/heads/"+r.defaultBranch] = sha
	f.repos[strings.ToLower(r.fullName())] = r
	f.scanWorkflows(r)
	return sha, nil
}

// SetRequiredChecks makes merging into branch require these check run
// names or status contexts to have passed on the head commit.
func (f *Fake) SetRequiredChecks(repoName, branch string, contexts ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	r.required[branch] = slices.Clone(contexts)
	return nil
}

// CreateLabel adds a repository label (idempotent).
func (f *Fake) CreateLabel(repoName, name, color, description string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	l := f.ensureLabel(r, name)
	if color != "" {
		l.Color = strings.TrimPrefix(color, "#")
	}
	l.Description = description
	return nil
}

func (f *Fake) repoByName(fullName string) (*repo, error) {
	r := f.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil, fmt.Errorf("githubfake: no repository %s", fullName)
	}
	return r, nil
}

// AppCredentials are what a GitHub App's owner downloads: the App id and its
// private key (PEM for ghinstallation).
type AppCredentials struct {
	ID         int64
	Slug       string
	PrivateKey *rsa.PrivateKey
	PEM        []byte
}

// NewApp registers a GitHub App with a fresh RSA key, owned by owner. Its
// bot account is "<slug>[bot]".
func (f *Fake) NewApp(slug, owner string) (AppCredentials, error) {
	key, pemBytes, err := GenerateKey()
	if err != nil {
		return AppCredentials{}, err
	}
	id, err := f.RegisterApp(0, slug, owner, &key.PublicKey)
	if err != nil {
		return AppCredentials{}, err
	}
	return AppCredentials{ID: id, Slug: slug, PrivateKey: key, PEM: pemBytes}, nil
}

// RegisterApp registers an App whose JWTs verify with pub and returns its
// id: id when non-zero (for a configuration that names a fixed App id),
// otherwise the next free id.
func (f *Fake) RegisterApp(id int64, slug, owner string, pub *rsa.PublicKey) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.apps {
		if a.Slug == slug || a.ID == id {
			return 0, fmt.Errorf("githubfake: app %s (id %d) exists", slug, a.ID)
		}
	}
	if id == 0 {
		id = f.id()
	}
	bot := f.user(slug + "[bot]")
	bot.Type = "Bot"
	a := &App{ID: id, Slug: slug, Name: slug, Owner: owner, PublicKey: pub, bot: bot, created: f.now()}
	f.user(owner)
	f.apps[a.ID] = a
	return a.ID, nil
}

// Install installs an App on an account: on all its repositories, or only
// on the named ones ("owner/name" or "name"). It returns the installation id.
func (f *Fake) Install(appID int64, account string, repos ...string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.apps[appID]
	if a == nil {
		return 0, fmt.Errorf("githubfake: no app %d", appID)
	}
	in := &installation{ID: f.id(), app: a, account: f.user(account), created: f.now()}
	if len(repos) > 0 {
		in.repos = map[string]bool{}
		for _, r := range repos {
			if !strings.Contains(r, "/") {
				r = account + "/" + r
			}
			in.repos[strings.ToLower(r)] = true
		}
	}
	f.installs[in.ID] = in
	return in.ID, nil
}

// InstallationToken mints an installation token without a JWT round trip.
func (f *Fake) InstallationToken(installationID int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.installs[installationID]
	if in == nil {
		return "", fmt.Errorf("githubfake: no installation %d", installationID)
	}
	return f.issueInstallationToken(in).value, nil
}

// UserToken returns a personal token that acts as login over HTTP (never expires).
func (f *Fake) UserToken(login string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &token{value: randomToken("ghp_"), user: f.user(login)}
	f.tokens[t.value] = t
	return t.value
}

// AddWebhookURL registers another URL that receives every event.
func (f *Fake) AddWebhookURL(url string) { f.hooks.addURL(url) }

// SetWebhookSecret changes the secret that signs deliveries queued from now on.
func (f *Fake) SetWebhookSecret(secret string) {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	f.hooks.secret = secret
}

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
		sha = r.objects.putCommit(commitData{Tree: tree, Parents: []string{parent}, Author: sig, Committer: sig, Message: msg})
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

// Merge merges a pull request ("merge" or "squash"; "" is merge) and returns
// the merge commit id. Refusals carry GitHub's message (not mergeable,
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
