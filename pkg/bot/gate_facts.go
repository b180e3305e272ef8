package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/forge"
	"github.com/rdsbot/rdsbot/pkg/ledger"
	"github.com/rdsbot/rdsbot/pkg/policy"
	"github.com/rdsbot/rdsbot/pkg/policy/digest"
)

// What the gate trusts, and where it comes from:
//
//   - who added a label and when: the issue events GitHub recorded, read at
//     every evaluation (never the webhook's word alone);
//   - reviews, their authors, states and commits; commit authors as GitHub
//     linked them; team memberships, read at every evaluation;
//   - what a pull request changes: the content digest rdsbot computed itself
//     from the files between the merge base and the head, against the base
//     branch the pull request had then, recorded in the ledger with the time
//     rdsbot first saw that head. A review counts for the digest recorded for
//     its commit, a label for the digest of the last head seen at or before
//     it was added; no record means other content (fail closed).
//   - which checks are rdsbot's: check runs of this App only.

// pullFacts are the policy's facts of one pull request, read through forge
// lazily (the policy asks for each at most once per evaluation).
type pullFacts struct {
	b        *Bot
	c        *forge.Client
	repo     string
	pr       *forge.PullRequest
	checksOn string // the commit whose checks are read (head, or a merge group's head)
	checkPfx string // check names that are rdsbot's
	approval string // the approval check's configured name

	timeline []ledger.HeadDigest

	once   sync.Once
	events []forge.IssueEvent
	evErr  error
}

func (b *Bot) newPullFacts(ctx context.Context, c *forge.Client, repo string, pr *forge.PullRequest, cfg *config.Config, checksOn string) (*pullFacts, error) {
	tl, err := b.ledger.Timeline(ctx, repo, pr.Number)
	if err != nil {
		return nil, err
	}
	return &pullFacts{b: b, c: c, repo: repo, pr: pr, checksOn: checksOn, checkPfx: "rdsbot/",
		approval: cfg.Approvals.CheckName, timeline: tl}, nil
}

var _ policy.Facts = (*pullFacts)(nil)

func (f *pullFacts) issueEvents(ctx context.Context) ([]forge.IssueEvent, error) {
	f.once.Do(func() { f.events, f.evErr = f.c.IssueEvents(ctx, f.repo, f.pr.Number) })
	return f.events, f.evErr
}

func actorOf(login string, bot bool) policy.Actor {
	a := policy.Actor{Login: login, Type: "User"}
	if bot {
		a.Type = "Bot"
	}
	return a
}

// Labels are the labels on the pull request now, each attributed to the
// event that last added it.
func (f *pullFacts) Labels(ctx context.Context) ([]policy.Label, error) {
	evs, err := f.issueEvents(ctx)
	if err != nil {
		return nil, err
	}
	added := map[string]forge.IssueEvent{}
	for _, ev := range forge.CurrentLabels(evs) {
		added[strings.ToLower(ev.Label)] = ev
	}
	var out []policy.Label
	for _, name := range f.pr.Labels {
		l := policy.Label{Name: name}
		if ev, ok := added[strings.ToLower(name)]; ok && ev.Actor != "" {
			l.AddedBy, l.AddedAt = actorOf(ev.Actor, ev.ActorBot), ev.At
			l.Digest = digestAt(f.timeline, ev.At)
		}
		out = append(out, l)
	}
	return out, nil
}

// Reviews are the pull request's submitted reviews, each with the digest
// recorded for its commit on the base the pull request had then.
func (f *pullFacts) Reviews(ctx context.Context) ([]policy.Review, error) {
	rs, err := f.c.PullReviews(ctx, f.repo, f.pr.Number)
	if err != nil {
		return nil, err
	}
	evs, err := f.issueEvents(ctx)
	if err != nil {
		return nil, err
	}
	var retargets []time.Time
	for _, ev := range evs {
		if ev.Event == "base_ref_changed" {
			retargets = append(retargets, ev.At)
		}
	}
	out := make([]policy.Review, 0, len(rs))
	for _, r := range rs {
		base := baseAt(f.timeline, retargets, f.pr.Base, r.SubmittedAt)
		out = append(out, policy.Review{ID: r.ID, Pull: f.pr.Number, Author: actorOf(r.User, r.UserBot), State: r.State,
			CommitID: r.CommitID, Submitted: r.SubmittedAt, Dismissed: r.Dismissed(),
			Digest: digestOf(f.timeline, r.CommitID, base)})
	}
	return out, nil
}

// Commits are the authors of the pull request's commits, the App's own
// (recorded in the ledger when it made them) left out.
func (f *pullFacts) Commits(ctx context.Context) (policy.Commits, error) {
	cs, err := f.c.PullCommits(ctx, f.repo, f.pr.Number)
	if err != nil {
		return policy.Commits{}, err
	}
	var out policy.Commits
	for _, cm := range cs {
		own, err := f.b.ledger.OwnCommit(ctx, f.repo, cm.SHA)
		if err != nil {
			return policy.Commits{}, err
		}
		if own {
			continue
		}
		if !cm.Linked() {
			out.Unlinked = append(out.Unlinked, cm.SHA)
			continue
		}
		out.Authors = append(out.Authors, actorOf(cm.Author, cm.AuthorBot))
		if cm.Committer != "" && !strings.EqualFold(cm.Committer, cm.Author) {
			out.Authors = append(out.Authors, actorOf(cm.Committer, false))
		}
	}
	return out, nil
}

// Membership is read from GitHub at every evaluation (child teams count,
// pending invitations do not).
func (f *pullFacts) Membership(ctx context.Context, team, login string) (policy.Membership, error) {
	org, _, _ := strings.Cut(f.repo, "/")
	return membershipOf(ctx, f.c, org, team, login)
}

// membershipOf reads login's membership of an organisation team.
func membershipOf(ctx context.Context, c *forge.Client, org, team, login string) (policy.Membership, error) {
	m, err := c.TeamMembership(ctx, org, team, login)
	if err != nil {
		return "", err
	}
	switch m.State {
	case forge.MemberActive:
		return policy.Active, nil
	case forge.MemberPending:
		return policy.Pending, nil
	}
	return policy.NotMember, nil
}

// ForeignChecks are check runs with rdsbot's names from another App, and
// commit statuses with rdsbot's names (rdsbot writes none).
func (f *pullFacts) ForeignChecks(ctx context.Context) ([]policy.ForeignCheck, error) {
	ours := func(name string) bool { return strings.HasPrefix(name, f.checkPfx) || name == f.approval }
	runs, err := f.c.CheckRuns(ctx, f.repo, f.checksOn, forge.CheckRunFilter{})
	if err != nil {
		return nil, err
	}
	var out []policy.ForeignCheck
	for _, r := range runs {
		if ours(r.Name) && (f.c.AppID() == 0 || r.AppID != f.c.AppID()) {
			state := r.Conclusion
			if state == "" {
				state = r.Status
			}
			src := r.AppSlug
			if src == "" {
				src = fmt.Sprintf("app %d", r.AppID)
			}
			out = append(out, policy.ForeignCheck{Name: r.Name, Kind: "check_run", Source: src, State: state})
		}
	}
	sts, err := f.c.CommitStatuses(ctx, f.repo, f.checksOn)
	if err != nil {
		return nil, err
	}
	for _, s := range forge.LatestStatuses(sts) {
		if ours(s.Context) && !strings.EqualFold(s.Creator, f.c.BotLogin()) {
			out = append(out, policy.ForeignCheck{Name: s.Context, Kind: "status", Source: s.Creator, State: s.State})
		}
	}
	return out, nil
}

// digestAt is the digest of the last head seen at or before t: what the
// pull request held when a label was added. "" when nothing was seen
// before t. Seen times carry milliseconds and GitHub's times whole
// seconds, so a label in the same second as a new head counts for the
// head before it (the safe side).
func digestAt(tl []ledger.HeadDigest, t time.Time) string {
	d := ""
	for _, h := range tl {
		if h.Seen.After(t) {
			break
		}
		d = h.Digest
	}
	return d
}

// baseAt is the base branch a pull request had at t: its base now unless a
// retarget (base_ref_changed, which GitHub records) happened after t; then
// the base of the last head rdsbot saw at or before t ("" when none).
func baseAt(tl []ledger.HeadDigest, retargets []time.Time, current string, t time.Time) string {
	if !slices.ContainsFunc(retargets, func(r time.Time) bool { return !r.Before(t) }) {
		return current
	}
	base := ""
	for _, h := range tl {
		if h.Seen.After(t) {
			break
		}
		base = h.Base
	}
	return base
}

// digestOf is the digest recorded for commit on base ("" when none).
func digestOf(tl []ledger.HeadDigest, commit, base string) string {
	if base == "" {
		return ""
	}
	for _, h := range tl {
		if strings.EqualFold(h.Head, commit) && h.Base == base {
			return h.Digest
		}
	}
	return ""
}

// --- content digest ------------------------------------------------------------

// contentKey names one computed digest: what head changes against the merge
// base, on the base branch branch. All three are immutable, so a key always
// gives the same digest.
type contentKey struct{ repo, mergeBase, head, branch string }

// content is a computed digest with the comparison it came from.
type content struct {
	cmp    *forge.Comparison
	digest *digest.Result
}

// contentCache keeps computed digests by (merge base, head, base branch),
// bounded; the comparison that finds the merge base is asked for at every
// evaluation (an unchanged one is a free 304).
type contentCache struct {
	mu sync.Mutex
	m  map[contentKey]*content
}

const maxContent = 256

func (cc *contentCache) get(k contentKey) *content {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.m[k]
}

func (cc *contentCache) put(k contentKey, v *content) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil {
		cc.m = map[contentKey]*content{}
	}
	if len(cc.m) >= maxContent {
		for old := range cc.m {
			delete(cc.m, old)
			break
		}
	}
	cc.m[k] = v
}

// contentOf computes the digest of what head changes since its merge base
// with base: the changed files (GitHub's comparison) with their bytes from
// forge snapshots (immutable, cached). branch is the base branch the digest
// is bound to.
func (b *Bot) contentOf(ctx context.Context, c *forge.Client, cfg *config.Config, repo, base, head, branch string) (*content, error) {
	cmp, err := c.Compare(ctx, repo, base, head)
	if err != nil {
		return nil, err
	}
	k := contentKey{repo: strings.ToLower(repo), mergeBase: strings.ToLower(cmp.MergeBase), head: strings.ToLower(head), branch: branch}
	if v := b.gateCache.get(k); v != nil {
		return &content{cmp: cmp, digest: v.digest}, nil
	}
	oldSnap, err := c.SnapshotAt(ctx, repo, cmp.MergeBase)
	if err != nil {
		return nil, err
	}
	newSnap, err := c.SnapshotAt(ctx, repo, head)
	if err != nil {
		return nil, err
	}
	read := func(s *forge.Snapshot, p string) ([]byte, error) {
		data, err := s.WithContext(ctx).ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return data, err
	}
	files := map[string]*digest.File{}
	add := func(p string) (*digest.File, error) {
		if f := files[p]; f != nil {
			return f, nil
		}
		f := &digest.File{Path: p}
		var err error
		if f.Old, err = read(oldSnap, p); err != nil {
			return nil, err
		}
		if f.New, err = read(newSnap, p); err != nil {
			return nil, err
		}
		files[p] = f
		return f, nil
	}
	for _, pf := range cmp.Files {
		if _, err := add(pf.Path); err != nil {
			return nil, err
		}
		if pf.PreviousPath != "" {
			if _, err := add(pf.PreviousPath); err != nil {
				return nil, err
			}
		}
	}
	var list []digest.File
	for _, f := range files {
		if f.Old == nil && f.New == nil {
			continue
		}
		list = append(list, *f)
	}
	res, err := digest.Compute(list, digest.Options{Base: branch, Volatile: digest.VolatileFor(cfg)})
	if err != nil {
		return nil, err
	}
	v := &content{cmp: cmp, digest: res}
	b.gateCache.put(k, v)
	return v, nil
}

// memoFacts reads each fact once for every evaluation of one pull request
// (a pull request touching two environments is evaluated twice).
type memoFacts struct {
	f       policy.Facts
	labels  *[]policy.Label
	reviews *[]policy.Review
	commits *policy.Commits
	foreign *[]policy.ForeignCheck
	members map[string]policy.Membership
}

func newMemoFacts(f policy.Facts) *memoFacts {
	return &memoFacts{f: f, members: map[string]policy.Membership{}}
}

var _ policy.Facts = (*memoFacts)(nil)

func (m *memoFacts) Labels(ctx context.Context) ([]policy.Label, error) {
	if m.labels == nil {
		v, err := m.f.Labels(ctx)
		if err != nil {
			return nil, err
		}
		m.labels = &v
	}
	return *m.labels, nil
}

func (m *memoFacts) memoLabels(ctx context.Context) ([]policy.Label, error) { return m.Labels(ctx) }

func (m *memoFacts) Reviews(ctx context.Context) ([]policy.Review, error) {
	if m.reviews == nil {
		v, err := m.f.Reviews(ctx)
		if err != nil {
			return nil, err
		}
		m.reviews = &v
	}
	return *m.reviews, nil
}

func (m *memoFacts) Commits(ctx context.Context) (policy.Commits, error) {
	if m.commits == nil {
		v, err := m.f.Commits(ctx)
		if err != nil {
			return policy.Commits{}, err
		}
		m.commits = &v
	}
	return *m.commits, nil
}

func (m *memoFacts) ForeignChecks(ctx context.Context) ([]policy.ForeignCheck, error) {
	if m.foreign == nil {
		v, err := m.f.ForeignChecks(ctx)
		if err != nil {
			return nil, err
		}
		m.foreign = &v
	}
	return *m.foreign, nil
}

func (m *memoFacts) Membership(ctx context.Context, team, login string) (policy.Membership, error) {
	k := team + "\x00" + strings.ToLower(login)
	if v, ok := m.members[k]; ok {
		return v, nil
	}
	v, err := m.f.Membership(ctx, team, login)
	if err != nil {
		return "", err
	}
	m.members[k] = v
	return v, nil
}
