package policy

import (
	"context"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/contract"
)

// Kind of request.
type Kind string

// Request kinds.
const (
	KindCreate       Kind = "create"
	KindDecommission Kind = "decommission"
)

// Actor is a GitHub account as GitHub reports it (never as a user typed it).
type Actor struct {
	Login string
	ID    int64  // 0 when unknown
	Type  string // "User", "Bot" or "Organization"; "" when unknown
}

// Is reports whether a and b are the same account: the same id when both
// ids are known, else the same login (GitHub logins are case-insensitive).
func (a Actor) Is(b Actor) bool {
	if a.ID != 0 && b.ID != 0 {
		return a.ID == b.ID
	}
	return a.Login != "" && strings.EqualFold(a.Login, b.Login)
}

// Request is what the pull request asks for, as rdsbot recorded it.
type Request struct {
	Kind        Kind
	Environment string
	Risk        string
	Size        string
	// Fields are any other request fields routing rules may test; the three
	// above win over entries of the same name.
	Fields map[string]string
	// Requesters are the accounts that asked: the issue author, the `user`
	// recorded from a dispatch. None of them may approve.
	Requesters []Actor
}

// Input is one evaluation's request and pull request.
type Input struct {
	Request Request
	// Pull is the pull request number; reviews given on any other pull
	// request are ignored.
	Pull int
	// Author opened the pull request (the App, for rdsbot's own).
	Author Actor
	// App is the App's own bot account (login "<slug>[bot]"): it never
	// approves, and labels it added never grant approval.
	App Actor
	// Digest is the pull request's content digest now (policy/digest): at
	// the head, or at the merge commit for the merge-time check, or on the
	// merge group's head in a merge queue.
	Digest string
}

// Review is one pull request review.
type Review struct {
	ID        int64
	Pull      int // the pull request it was given on
	Author    Actor
	State     string // as GitHub sends it: "approved" (webhook) or "APPROVED" (REST)
	CommitID  string
	Submitted time.Time
	Dismissed bool // dismissed since (a dismissed review arrives with state DISMISSED too)
	// Digest is the content digest of the pull request at CommitID, as
	// rdsbot computed it against the base branch the pull request had then;
	// "" when rdsbot has no record (the review then counts for nothing).
	Digest string
}

// Label is a label on the pull request now, with its latest "labeled"
// issue event.
type Label struct {
	Name    string
	AddedBy Actor // the event's actor; zero when no event was found
	AddedAt time.Time
	// Digest is the pull request's content digest when the label was added;
	// "" when unknown.
	Digest string
}

// Membership of a login in a team, child teams included (GitHub's team
// membership endpoint reports them).
type Membership string

// Membership states.
const (
	NotMember Membership = "none"
	Pending   Membership = "pending" // invited, not yet accepted: counts for nothing
	Active    Membership = "active"
)

// Commits are facts about the pull request's commits, rdsbot's own excluded.
type Commits struct {
	// Authors are the GitHub accounts of every commit's author and
	// committer.
	Authors []Actor
	// Unlinked are the SHAs of commits whose author GitHub could not link
	// to an account: nobody can be shown not to have written them.
	Unlinked []string
}

// ForeignCheck is a commit status or check run that carries one of rdsbot's
// check names but was not written by the App.
type ForeignCheck struct {
	Name   string
	Kind   string // "status" or "check_run"
	Source string // the creator's login, or the app's slug
	State  string // its state or conclusion as reported
}

// Facts are what GitHub knows about the pull request. The bot implements
// them over the API (lazily, so an evaluation reads only what it needs);
// Static holds them in memory. Evaluate calls each method at most once per
// evaluation, except Membership, once per (team, login).
type Facts interface {
	// Labels on the pull request now, each with its latest labeled event.
	Labels(ctx context.Context) ([]Label, error)
	// Reviews of the pull request, in any order.
	Reviews(ctx context.Context) ([]Review, error)
	// Commits of the pull request.
	Commits(ctx context.Context) (Commits, error)
	// Membership of login in the team with this slug, now.
	Membership(ctx context.Context, team, login string) (Membership, error)
	// ForeignChecks with rdsbot's names on the evaluated commit.
	ForeignChecks(ctx context.Context) ([]ForeignCheck, error)
}

// Static is Facts held in memory.
type Static struct {
	LabelList   []Label
	ReviewList  []Review
	CommitFacts Commits
	// Members maps team slug → login (any case) → membership; absent is
	// NotMember.
	Members map[string]map[string]Membership
	Foreign []ForeignCheck
}

var _ Facts = (*Static)(nil)

func (s *Static) Labels(context.Context) ([]Label, error)   { return s.LabelList, nil }
func (s *Static) Reviews(context.Context) ([]Review, error) { return s.ReviewList, nil }
func (s *Static) Commits(context.Context) (Commits, error)  { return s.CommitFacts, nil }
func (s *Static) ForeignChecks(context.Context) ([]ForeignCheck, error) {
	return s.Foreign, nil
}

func (s *Static) Membership(_ context.Context, team, login string) (Membership, error) {
	for l, m := range s.Members[team] {
		if strings.EqualFold(l, login) {
			return m, nil
		}
	}
	return NotMember, nil
}

// FromContract is the policy's view of a validated create request, with
// every field for routing. Requesters are the accounts GitHub reported for
// it (the issue author; the sender of a dispatch as well as the `user` it
// recorded), never a name taken from the request's text alone.
func FromContract(r *contract.Request, requesters ...Actor) Request {
	return Request{
		Kind: KindCreate, Environment: r.Environment, Risk: r.Risk, Size: r.Size,
		Fields: r.Fields(), Requesters: requesters,
	}
}
