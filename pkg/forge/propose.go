package forge

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/gitops"
)

// PlanFunc plans a request on a snapshot of the base commit. Propose calls
// it again whenever the base or the branch moved under it.
type PlanFunc func(ctx context.Context, snap fs.FS, baseSHA string) (*gitops.Plan, error)

// Proposal is what Propose needs.
type Proposal struct {
	Repo string // "owner/name"
	// Base is the branch to plan on and target; a plan that names another
	// Base (a request for another allowed branch) moves the proposal there.
	Base string
	Plan PlanFunc
	// Managed reports the labels the bot owns on its pull requests (size,
	// risk, environment). A managed label the plan no longer lists is
	// removed; every other label (approvals, anything a person added) is
	// left alone. Nil: labels are only ever added.
	Managed func(label string) bool
	// Draft opens new pull requests as drafts.
	Draft bool
	// KeepCurrent leaves a bot branch alone when the base moved but none of
	// the plan's files changed under it: the branch's copies of those files
	// are already what a plan on the new base writes, so the pull request
	// still shows exactly the change set and merges cleanly. Rebuilding it
	// anyway would make a new commit (which may dismiss approvals and
	// re-runs checks) for nothing. Without it the branch is rebuilt on every
	// new base.
	KeepCurrent bool
}

// Result is what Propose did.
type Result struct {
	Plan    *gitops.Plan
	BaseSHA string // the base commit the plan was made on
	Head    string // the branch head afterwards ("" when the plan was empty and no branch exists)
	Commit  string // the commit made now; "" when the branch already held the change set
	PR      *PullRequest
	// Empty: the base already holds the request; nothing was written.
	Empty         bool
	BranchCreated bool
	PRCreated     bool
	PREdited      bool // title, body, base or state changed
	LabelsAdded   []string
	LabelsRemoved []string
	Attempts      int // plans made (1 unless the base or the branch moved)
}

// Changed reports whether Propose wrote anything.
func (r *Result) Changed() bool {
	return r.Commit != "" || r.PRCreated || r.PREdited || len(r.LabelsAdded) > 0 || len(r.LabelsRemoved) > 0
}

// ForeignChangeError is returned when the pull request branch holds
// commits the bot did not write (the commit ledger does not know its head).
// Propose neither keeps, nor builds on, nor silently drops what they
// changed: the bot blocks the request and explains. It matches
// ErrForeignChange and ErrBranchNotOurs.
type ForeignChangeError struct {
	Repo, Branch, Head string
	// Files are the paths whose content on the branch is not what the plan
	// writes: changed against the merge base and either outside the plan or
	// with other content (at most maxReportedFiles; MoreFiles counts the
	// rest). Empty when the foreign commits change nothing the plan does not
	// (a merge of the base, say): they are still not the bot's.
	Files     []string
	MoreFiles int
	// Authors are the names the foreign commits claim (git author, and the
	// GitHub login GitHub matched to it): for the explanation only, since
	// anyone pushing can write any name there.
	Authors []string
}

func (e *ForeignChangeError) Error() string {
	msg := fmt.Sprintf("forge: branch %s of %s is at %.12s, which the bot did not write", e.Branch, e.Repo, e.Head)
	if len(e.Files) > 0 {
		msg += fmt.Sprintf("; it changes %s", strings.Join(e.Files, ", "))
		if e.MoreFiles > 0 {
			msg += fmt.Sprintf(" and %d more", e.MoreFiles)
		}
		msg += " outside the plan"
	}
	return msg + "; not building on it"
}

// Is matches ErrForeignChange and ErrBranchNotOurs.
func (e *ForeignChangeError) Is(target error) bool {
	return target == ErrForeignChange || target == ErrBranchNotOurs
}

// SquattedBranchError is returned when the request's branch exists but the
// bot never wrote to it (none of its commits since the base is in the
// ledger), or when a pull request from it was opened by someone else: the
// bot does not take it over, and opens no pull request of its own. It
// matches ErrBranchSquatted and ErrBranchNotOurs.
type SquattedBranchError struct {
	Repo, Branch, Head string
	// PR is the open pull request from the branch that someone else opened,
	// 0 when there is none.
	PR int
	// Authors are the names its commits claim (see ForeignChangeError).
	Authors []string
}

func (e *SquattedBranchError) Error() string {
	if e.PR != 0 {
		return fmt.Sprintf("forge: branch %s of %s has pull request #%d, which the bot did not open; not taking it over", e.Branch, e.Repo, e.PR)
	}
	return fmt.Sprintf("forge: branch %s of %s exists at %.12s but the bot never wrote to it; not taking it over", e.Branch, e.Repo, e.Head)
}

// Is matches ErrBranchSquatted and ErrBranchNotOurs.
func (e *SquattedBranchError) Is(target error) bool {
	return target == ErrBranchSquatted || target == ErrBranchNotOurs
}

// maxReportedFiles bounds ForeignChangeError.Files.
const maxReportedFiles = 100

// Propose turns a request into its pull request, idempotently:
//
//  1. read the base head and snapshot it (cached by commit);
//  2. plan on the snapshot;
//  3. read the branch: when its head is not a commit the ledger knows as
//     the bot's, stop with a *ForeignChangeError (the bot's branch got
//     someone else's commits) or a *SquattedBranchError (the bot never
//     wrote to it); when the head already holds exactly this change set on
//     this base, write nothing; otherwise commit the change set on the
//     base (parents: base, and the old head so the ref update is a
//     fast-forward), record the commit in the ledger and only then create
//     or move the branch by compare-and-swap;
//  4. open the pull request, or update its title, body and base (reopening
//     a closed one), only where they differ;
//  5. add the plan's missing labels (created in the repository first, with
//     a colour) and remove stale managed ones.
//
// A failed compare-and-swap (someone moved the branch, or created it
// meanwhile) starts again from 1, at most Config.ProposeAttempts times
// (then ErrBaseMoved). A replay of the same request writes nothing.
func (c *Client) Propose(ctx context.Context, p Proposal) (*Result, error) {
	owner, name, err := splitRepo(p.Repo)
	if err != nil {
		return nil, err
	}
	if p.Plan == nil || p.Base == "" {
		return nil, fmt.Errorf("forge: propose: a plan function and a base branch are required")
	}
	base := p.Base
	var branch string
	for attempt := 1; attempt <= c.cfg.ProposeAttempts; attempt++ {
		res, retry, err := c.proposeOnce(ctx, owner, name, p, &base)
		if res != nil {
			res.Attempts = attempt
			if res.Plan != nil {
				branch = res.Plan.Branch
			}
		}
		if retry {
			c.log.Info("propose: re-planning", "repo", p.Repo, "branch", branch, "attempt", attempt, "reason", err)
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("forge: propose %s on %s: %d attempts: %w", branch, p.Repo, c.cfg.ProposeAttempts, ErrBaseMoved)
}

// proposeOnce is one pass; retry asks for another pass (base switched, or a
// compare-and-swap lost).
func (c *Client) proposeOnce(ctx context.Context, owner, name string, p Proposal, base *string) (*Result, bool, error) {
	repo := owner + "/" + name
	baseSHA, err := c.ResolveRef(ctx, repo, *base)
	if err != nil {
		return nil, false, err
	}
	snap, err := c.SnapshotAt(ctx, repo, baseSHA)
	if err != nil {
		return nil, false, err
	}
	plan, err := p.Plan(ctx, snap, baseSHA)
	if err != nil {
		return nil, false, fmt.Errorf("forge: plan on %s@%.12s: %w", repo, baseSHA, err)
	}
	res := &Result{Plan: plan, BaseSHA: baseSHA}
	if plan.Base != "" && plan.Base != *base {
		*base = plan.Base
		return res, true, fmt.Errorf("plan targets %s", plan.Base)
	}
	if plan.Branch == "" || plan.Branch == *base {
		return nil, false, fmt.Errorf("forge: propose: plan branch %q must be set and differ from the base %q", plan.Branch, *base)
	}
	// Within this process one proposal per branch at a time; across
	// processes the ref updates are compare-and-swap.
	defer c.locks.lock("propose:" + strings.ToLower(repo) + ":" + plan.Branch)()
	head, err := c.branchHead(ctx, owner, name, plan.Branch)
	if err != nil {
		return nil, false, err
	}
	res.Head = head
	if plan.Empty() {
		res.Empty = true
		return res, false, nil
	}
	changes := fileChanges(plan.Changes)
	want, err := snap.ix.hashWith(ctx, snap.fetchTree, changes)
	if err != nil {
		return nil, false, wrap("hash tree", err)
	}
	if head != "" {
		own, err := c.ownCommit(ctx, owner, name, head)
		if err != nil {
			return nil, false, err
		}
		if !own {
			return nil, false, c.notOurs(ctx, owner, name, baseSHA, plan.Branch, head, changes)
		}
		hc, err := c.commit(ctx, owner, name, head)
		if err != nil {
			return nil, false, err
		}
		upToDate := hc.Tree == want && slices.Contains(hc.Parents, baseSHA)
		if !upToDate && p.KeepCurrent {
			current, err := c.holdsExactly(ctx, repo, hc, changes)
			if err == nil && !current {
				current, err = c.mergesTo(ctx, repo, hc, snap, changes)
			}
			if err != nil {
				return nil, false, err
			}
			if current {
				return c.finishPull(ctx, owner, name, p, plan, *base, res, false)
			}
		}
	}
	cs := ChangeSet{Branch: plan.Branch, Base: baseSHA, Head: head, Message: plan.CommitMessage, Changes: plan.Changes}
	sha, made, err := c.commitChangeSet(ctx, snap, cs, changes, want)
	if errors.Is(err, ErrRefExists) || errors.Is(err, ErrRefMoved) {
		return res, true, err
	}
	if err != nil {
		return nil, false, err
	}
	res.Head = sha
	if made {
		res.Commit = sha
		res.BranchCreated = head == ""
	}
	return c.finishPull(ctx, owner, name, p, plan, *base, res, made)
}

// finishPull opens or updates the pull request and its labels.
func (c *Client) finishPull(ctx context.Context, owner, name string, p Proposal, plan *gitops.Plan, base string, res *Result, made bool) (*Result, bool, error) {
	pr, created, edited, err := c.upsertPull(ctx, owner, name, plan, base, res.BranchCreated, made, p.Draft)
	if err != nil {
		return nil, false, err
	}
	res.PR, res.PRCreated, res.PREdited = pr, created, edited
	if pr.State != "open" {
		return res, false, nil // closed by a person and nothing changed: left alone
	}
	res.LabelsAdded, res.LabelsRemoved, err = c.reconcileLabels(ctx, owner, name, pr, plan.Labels, p.Managed)
	if err != nil {
		return nil, false, err
	}
	return res, false, nil
}

// changesExactly reads the bot's commit hc and reports whether it changes,
// against its first parent, exactly the paths of the change set (their
// content aside). Both trees are read once and cached by commit.
func (c *Client) changesExactly(ctx context.Context, repo string, hc *commitInfo, changes []fileChange) (head, parent *Snapshot, ok bool, err error) {
	if len(hc.Parents) == 0 {
		return nil, nil, false, nil
	}
	if head, err = c.SnapshotAt(ctx, repo, hc.SHA); err != nil {
		return nil, nil, false, err
	}
	if parent, err = c.SnapshotAt(ctx, repo, hc.Parents[0]); err != nil {
		return nil, nil, false, err
	}
	changed, err := diffTrees(ctx, parent, head)
	if err != nil {
		return nil, nil, false, wrap("compare "+hc.SHA+" with its base", err)
	}
	if len(changed) != len(changes) {
		return nil, nil, false, nil
	}
	for _, ch := range changes {
		if _, ok := slices.BinarySearch(changed, ch.path); !ok {
			return nil, nil, false, nil
		}
	}
	return head, parent, true, nil
}

// holdsExactly reports whether the bot's commit hc changes exactly the
// change set's files against its first parent (the base it was made on):
// each with exactly the planned content (the deleted ones absent), and no
// other path. Both trees are read once and cached by commit, like any
// snapshot.
func (c *Client) holdsExactly(ctx context.Context, repo string, hc *commitInfo, changes []fileChange) (bool, error) {
	head, _, ok, err := c.changesExactly(ctx, repo, hc, changes)
	if err != nil || !ok {
		return false, err
	}
	for _, ch := range changes {
		same, err := c.hasContent(ctx, head, ch)
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// mergesTo reports whether merging the branch head hc into the new base
// (a three-way merge of each planned file, line by line, as GitHub merges)
// gives exactly what a plan on the new base writes: the base moved under
// the branch (the catalog's statuses changed, say) without touching the
// request's own lines, so rebuilding the branch would make a commit, new
// checks and comments for nothing. The branch must change exactly the
// plan's files.
func (c *Client) mergesTo(ctx context.Context, repo string, hc *commitInfo, base *Snapshot, changes []fileChange) (bool, error) {
	head, parent, ok, err := c.changesExactly(ctx, repo, hc, changes)
	if err != nil || !ok {
		return false, err
	}
	read := func(s *Snapshot, path string) (string, bool, error) {
		b, err := s.WithContext(ctx).ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return string(b), err == nil, err
	}
	for _, ch := range changes {
		if ch.delete {
			return false, nil
		}
		o, inO, err := read(parent, ch.path)
		if err != nil {
			return false, err
		}
		h, inH, err := read(head, ch.path)
		if err != nil {
			return false, err
		}
		n, inN, err := read(base, ch.path)
		if err != nil {
			return false, err
		}
		if !inH || inO != inN {
			return false, nil
		}
		merged, ok := diff.Merge3(o, h, n)
		if !ok || merged != string(ch.content) {
			return false, nil
		}
	}
	return true, nil
}

// hasContent reports whether snap holds a change's planned content at its
// path (or, for a deletion, nothing there).
func (c *Client) hasContent(ctx context.Context, snap *Snapshot, ch fileChange) (bool, error) {
	e, ok, err := snap.ix.entry(ctx, snap.fetchTree, ch.path)
	if err != nil {
		return false, wrap("read tree of "+snap.SHA, err)
	}
	if ch.delete {
		return !ok, nil
	}
	return ok && e.typ == "blob" && e.sha == blobHash(ch.content), nil
}

// notOurs explains a branch whose head the bot did not write: the commits
// on it since the base (GitHub's compare) say whether the bot ever wrote to
// it (a foreign change on its branch) or not (a squatted branch), and the
// files that differ from the merge base (compared locally, every path) say
// which of them are not the plan's.
func (c *Client) notOurs(ctx context.Context, owner, name, baseSHA, branch, head string, changes []fileChange) error {
	repo := owner + "/" + name
	cmp, _, err := c.gh.Repositories.CompareCommits(ctx, owner, name, baseSHA, head, &github.ListOptions{PerPage: 100})
	if IsNotFound(err) {
		// No common history with the base: no commit of the bot's is on it.
		return &SquattedBranchError{Repo: repo, Branch: branch, Head: head}
	}
	if err != nil {
		return wrap(fmt.Sprintf("compare %s with the base", branch), err)
	}
	var authors []string
	ours := 0
	for _, rc := range cmp.Commits {
		own, err := c.ownCommit(ctx, owner, name, rc.GetSHA())
		if err != nil {
			return err
		}
		if own {
			ours++
			continue
		}
		who := clipName(rc.GetCommit().GetAuthor().GetName())
		if login := rc.GetAuthor().GetLogin(); login != "" && !strings.EqualFold(login, who) {
			who += " (" + login + ")"
		}
		if who != "" && !slices.Contains(authors, who) && len(authors) < 20 {
			authors = append(authors, who)
		}
	}
	if ours == 0 {
		return &SquattedBranchError{Repo: repo, Branch: branch, Head: head, Authors: authors}
	}
	out := &ForeignChangeError{Repo: repo, Branch: branch, Head: head, Authors: authors}
	mergeBase := cmp.GetMergeBaseCommit().GetSHA()
	if mergeBase == "" {
		mergeBase = baseSHA
	}
	from, err := c.SnapshotAt(ctx, repo, mergeBase)
	if err != nil {
		return err
	}
	to, err := c.SnapshotAt(ctx, repo, head)
	if err != nil {
		return err
	}
	changed, err := diffTrees(ctx, from, to)
	if err != nil {
		return wrap("compare "+branch+" with the merge base", err)
	}
	planned := map[string]fileChange{}
	for _, ch := range changes {
		planned[ch.path] = ch
	}
	for _, p := range changed {
		if ch, ok := planned[p]; ok {
			if same, err := c.hasContent(ctx, to, ch); err != nil {
				return err
			} else if same {
				continue
			}
		}
		if len(out.Files) < maxReportedFiles {
			out.Files = append(out.Files, p)
		} else {
			out.MoreFiles++
		}
	}
	return out
}

// branchHead is a branch's head commit, "" when the branch does not exist.
func (c *Client) branchHead(ctx context.Context, owner, name, branch string) (string, error) {
	r, _, err := c.gh.Git.GetRef(ctx, owner, name, "heads/"+branch)
	if IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", wrap("read branch "+branch, err)
	}
	return r.GetObject().GetSHA(), nil
}

// ChangeSet is one commit: files applied on Base, moving Branch.
type ChangeSet struct {
	Branch string
	// Base is the commit the changes apply on: the new commit's first parent.
	Base string
	// Head is the branch's current head, "" when the branch does not exist
	// yet. The ref update is a compare-and-swap on it: when Head differs from
	// Base it becomes the second parent, so the update is a fast-forward
	// that fails (ErrRefMoved) if the branch moved meanwhile.
	Head    string
	Message string
	// Changes: New is the file's content; New == nil with Old != nil
	// deletes the file.
	Changes []gitops.Change
}

// CommitChangeSet writes a change set as one commit through the Git Data
// API: a tree with the files inline on Base's tree, a commit (recorded in
// the commit ledger), then the ref (created, or moved without force). It
// returns the branch head and whether a commit was made: when Head already
// holds exactly these files on Base nothing is written. Errors:
// ErrRefExists when Head is "" but the branch exists, ErrRefMoved when the
// branch is no longer at Head. It does not check whose Head is: Propose
// does.
func (c *Client) CommitChangeSet(ctx context.Context, repo string, cs ChangeSet) (string, bool, error) {
	snap, err := c.SnapshotAt(ctx, repo, cs.Base)
	if err != nil {
		return "", false, err
	}
	changes := fileChanges(cs.Changes)
	want, err := snap.ix.hashWith(ctx, snap.fetchTree, changes)
	if err != nil {
		return "", false, wrap("hash tree", err)
	}
	return c.commitChangeSet(ctx, snap, cs, changes, want)
}

func (c *Client) commitChangeSet(ctx context.Context, snap *Snapshot, cs ChangeSet, changes []fileChange, want string) (string, bool, error) {
	owner, name := snap.owner, snap.name
	if cs.Branch == "" {
		return "", false, fmt.Errorf("forge: commit change set: branch is required")
	}
	if cs.Head != "" {
		hc, err := c.commit(ctx, owner, name, cs.Head)
		if err != nil {
			return "", false, err
		}
		if hc.Tree == want && slices.Contains(append([]string{hc.SHA}, hc.Parents...), cs.Base) {
			return cs.Head, false, nil
		}
	}
	entries := make([]*github.TreeEntry, 0, len(changes))
	for _, ch := range changes {
		mode, err := snap.ix.modeOf(ctx, snap.fetchTree, ch.path)
		if err != nil {
			return "", false, wrap("mode of "+ch.path, err)
		}
		e := &github.TreeEntry{Path: github.String(ch.path), Mode: github.String(mode), Type: github.String("blob")}
		switch {
		case ch.delete:
		case utf8.Valid(ch.content):
			e.Content = github.String(string(ch.content))
		default: // JSON strings cannot carry other bytes: upload a blob
			b, _, err := c.gh.Git.CreateBlob(ctx, owner, name, &github.Blob{Content: github.String(base64Std(ch.content)), Encoding: github.String("base64")})
			if err != nil {
				return "", false, wrap("create blob for "+ch.path, err)
			}
			e.SHA = b.SHA
		}
		entries = append(entries, e)
	}
	tree, _, err := c.gh.Git.CreateTree(ctx, owner, name, snap.TreeSHA, entries)
	if err != nil {
		return "", false, wrap("create tree", err)
	}
	if tree.GetSHA() != want {
		c.log.Warn("forge: local tree id differs from GitHub's", "want", want, "got", tree.GetSHA())
	}
	parents := []*github.Commit{{SHA: github.String(cs.Base)}}
	if cs.Head != "" && cs.Head != cs.Base {
		parents = append(parents, &github.Commit{SHA: github.String(cs.Head)})
	}
	cm, _, err := c.gh.Git.CreateCommit(ctx, owner, name, &github.Commit{
		Message: github.String(cs.Message), Tree: &github.Tree{SHA: tree.SHA}, Parents: parents}, nil)
	if err != nil {
		return "", false, wrap("create commit", err)
	}
	ci := commitOf(cm)
	c.snaps.commits.add(c.repoKey(owner, name)+"@"+ci.SHA, ci)
	// Recorded before any branch points at it: a crash between the two
	// leaves a recorded commit nothing uses, never a bot commit on the
	// branch that the bot would not recognise.
	if err := c.recordCommit(ctx, owner, name, ci.SHA); err != nil {
		return "", false, err
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + cs.Branch), Object: &github.GitObject{SHA: cm.SHA}}
	if cs.Head == "" {
		_, _, err = c.gh.Git.CreateRef(ctx, owner, name, ref)
		if ae := apiError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity && ae.has("already exists") {
			return "", false, fmt.Errorf("forge: create branch %s: %w: %w", cs.Branch, ErrRefExists, ae)
		}
		if err != nil {
			return "", false, wrap("create branch "+cs.Branch, err)
		}
		return ci.SHA, true, nil
	}
	_, _, err = c.gh.Git.UpdateRef(ctx, owner, name, ref, false)
	if ae := apiError(err); ae != nil && protectionRefusal(ae) {
		return "", false, fmt.Errorf("forge: move branch %s: %w: %w", cs.Branch, ErrProtected, ae)
	}
	if ae := apiError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity {
		return "", false, fmt.Errorf("forge: move branch %s from %.12s: %w: %w", cs.Branch, cs.Head, ErrRefMoved, ae)
	}
	if err != nil {
		return "", false, wrap("move branch "+cs.Branch, err)
	}
	return ci.SHA, true, nil
}

func fileChanges(cs []gitops.Change) []fileChange {
	out := make([]fileChange, 0, len(cs))
	for _, ch := range cs {
		out = append(out, fileChange{path: strings.Trim(ch.Path, "/"), content: ch.New, delete: ch.New == nil && ch.Old != nil})
	}
	return out
}

// upsertPull opens the branch's pull request or brings it up to date.
// fresh: the branch was just created, so no open pull request can exist
// for it and the lookup is skipped (a 422 "already exists" falls back to
// it). A closed, unmerged pull request is reopened only when committed (the
// request changed); otherwise it is returned as it is, untouched, so a
// replay never reopens what a person closed.
func (c *Client) upsertPull(ctx context.Context, owner, name string, plan *gitops.Plan, base string, fresh, committed, draft bool) (*PullRequest, bool, bool, error) {
	create := func() (*PullRequest, bool, error) {
		pr, _, err := c.gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{
			Title: github.String(plan.Title), Body: github.String(plan.Body), Head: github.String(plan.Branch),
			Base: github.String(base), Draft: github.Bool(draft)})
		if ae := apiError(err); ae != nil && ae.Status == http.StatusUnprocessableEntity && ae.has("already exists") {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, wrap("open pull request for "+plan.Branch, err)
		}
		return pullOf(pr), false, nil
	}
	if fresh {
		pr, exists, err := create()
		if err != nil || !exists {
			return pr, pr != nil, false, err
		}
	}
	for round := 0; ; round++ {
		existing, err := c.findPull(ctx, owner, name, plan.Branch)
		if err != nil {
			return nil, false, false, err
		}
		if existing != nil && existing.State == "open" && !c.isBot(existing.User) {
			return nil, false, false, &SquattedBranchError{Repo: owner + "/" + name, Branch: plan.Branch,
				Head: existing.HeadSHA, PR: existing.Number}
		}
		if existing == nil || existing.Merged {
			pr, exists, err := create()
			if exists && round == 0 {
				continue // opened meanwhile: look again
			}
			if exists {
				return nil, false, false, fmt.Errorf("forge: open pull request for %s: %w", plan.Branch, ErrConflict)
			}
			return pr, pr != nil, false, err
		}
		if existing.State != "open" && !committed {
			return existing, false, false, nil
		}
		edit := &github.PullRequest{}
		changed := false
		if existing.Title != plan.Title {
			edit.Title, changed = github.String(plan.Title), true
		}
		if existing.Body != plan.Body {
			edit.Body, changed = github.String(plan.Body), true
		}
		if existing.Base != base {
			edit.Base, changed = &github.PullRequestBranch{Ref: github.String(base)}, true
		}
		if existing.State != "open" {
			edit.State, changed = github.String("open"), true
		}
		if !changed {
			return existing, false, false, nil
		}
		pr, _, err := c.gh.PullRequests.Edit(ctx, owner, name, existing.Number, edit)
		if err != nil {
			return nil, false, false, wrap(fmt.Sprintf("update pull request #%d", existing.Number), err)
		}
		return pullOf(pr), false, true, nil
	}
}

// findPull returns the branch's open pull request (whoever opened it: the
// caller refuses one that is not the bot's), else the most recent closed
// one the bot opened, else nil. Who opened a pull request is GitHub's fact,
// not text anyone can edit.
func (c *Client) findPull(ctx context.Context, owner, name, branch string) (*PullRequest, error) {
	prs, err := c.listPulls(ctx, owner, name, &github.PullRequestListOptions{State: "all", Head: owner + ":" + branch,
		Sort: "created", Direction: "desc"})
	if err != nil {
		return nil, err
	}
	var closed *PullRequest
	for _, pr := range prs {
		if pr.State == "open" {
			return pr, nil
		}
		if closed == nil && c.isBot(pr.User) {
			closed = pr
		}
	}
	return closed, nil
}

// reconcileLabels adds the wanted labels a pull request lacks and removes
// managed ones it no longer wants.
func (c *Client) reconcileLabels(ctx context.Context, owner, name string, pr *PullRequest, want []string, managed func(string) bool) ([]string, []string, error) {
	var missing, stale []string
	for _, l := range want {
		if !containsFold(pr.Labels, l) {
			missing = append(missing, l)
		}
	}
	if managed != nil {
		for _, l := range pr.Labels {
			if managed(l) && !containsFold(want, l) {
				stale = append(stale, l)
			}
		}
	}
	if len(missing) > 0 {
		labels, err := c.addLabels(ctx, owner, name, pr.Number, missing)
		if err != nil {
			return nil, nil, err
		}
		pr.Labels = labels
	}
	for _, l := range stale {
		if err := c.RemoveLabel(ctx, owner+"/"+name, pr.Number, l); err != nil {
			return missing, nil, err
		}
		pr.Labels = slices.DeleteFunc(pr.Labels, func(x string) bool { return strings.EqualFold(x, l) })
	}
	return missing, stale, nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
