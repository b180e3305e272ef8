// Package lifecycle is the one model of where a database request stands. The
// catalog records it, the request issue's status comment and the pull
// request show it, all with the same states and reasons.
//
// A State is coarse and follows the catalog's enum (rds.request_status):
//
//	pending → approved → applying → provisioning → active
//	                        ↘            ↘
//	                          failed ←─────  (and back: a retry)
//	active → decommissioning → decommissioned
//
// plus withdrawn, a request closed before it merged, which never reaches a
// catalog on the base branch. A Reason says why a request is in its state
// (as Kubernetes conditions do): pending covers "invalid", "waiting for
// approval", "blocked by a foreign change" and more, each with a sentence
// for the requester.
//
// Before merge a request's status is derived afresh from GitHub at every
// event; nothing is persisted, so it cannot drift. From merge on, each
// transition is persisted in the catalog with its reason, message, time and
// commit; CheckTransition says which moves are legal there.
package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is the coarse lifecycle state of a request.
type State string

// States, in lifecycle order.
const (
	Pending         State = "pending"
	Approved        State = "approved"
	Applying        State = "applying"
	Provisioning    State = "provisioning"
	Active          State = "active"
	Failed          State = "failed"
	Decommissioning State = "decommissioning"
	Decommissioned  State = "decommissioned"
	// Withdrawn is a request closed before merge. It is shown on the issue,
	// never written to the base branch's catalog.
	Withdrawn State = "withdrawn"
)

// persisted are the states a catalog may hold (the enum rds.request_status),
// in the enum's order.
var persisted = []State{Pending, Approved, Applying, Provisioning, Active, Failed, Decommissioning, Decommissioned}

// transitions are the legal moves of a persisted state.
var transitions = map[State][]State{
	Pending:         {Approved, Failed},
	Approved:        {Applying, Provisioning, Failed},
	Applying:        {Provisioning, Active, Failed},
	Provisioning:    {Active, Failed},
	Failed:          {Applying, Provisioning, Decommissioning},
	Active:          {Decommissioning},
	Decommissioning: {Decommissioned, Failed},
	Decommissioned:  nil,
}

// Persisted returns the states a catalog may hold, in enum order.
func Persisted() []State { return slices.Clone(persisted) }

// Known reports whether s is a state of this model (withdrawn included).
func (s State) Known() bool { _, ok := transitions[s]; return ok || s == Withdrawn }

// Persistable reports whether s may be written to a catalog.
func (s State) Persistable() bool { _, ok := transitions[s]; return ok }

// Next returns the states s may move to once persisted.
func (s State) Next() []State { return slices.Clone(transitions[s]) }

// Final reports whether nothing follows s.
func (s State) Final() bool { return s == Decommissioned || s == Withdrawn }

// ParseState reads a persisted state.
func ParseState(v string) (State, error) {
	s := State(v)
	if !s.Persistable() {
		return "", fmt.Errorf("unknown status %q (known: %s)", v, Join(persisted, ", "))
	}
	return s, nil
}

// ErrIllegalTransition is wrapped by every *TransitionError.
var ErrIllegalTransition = errors.New("illegal status transition")

// TransitionError is a move the model forbids.
type TransitionError struct{ From, To State }

func (e *TransitionError) Error() string {
	switch {
	case !e.From.Persistable():
		return fmt.Sprintf("illegal status transition %q → %q: the current status %q is not a known status (known: %s)",
			e.From, e.To, e.From, Join(persisted, ", "))
	case !e.To.Persistable():
		return fmt.Sprintf("illegal status transition %s → %q: %q is not a known status (known: %s)",
			e.From, e.To, e.To, Join(persisted, ", "))
	case e.From.Final():
		return fmt.Sprintf("illegal status transition %s → %s: %s is final, no transition leaves it", e.From, e.To, e.From)
	default:
		return fmt.Sprintf("illegal status transition %s → %s: from %s the next status can only be %s",
			e.From, e.To, e.From, orList(transitions[e.From]))
	}
}

func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// CheckTransition returns nil when from → to is legal for a persisted
// status, and a *TransitionError otherwise (staying put is not a move).
func CheckTransition(from, to State) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// CheckEnum compares the persisted states with the values of the schema enum
// rds.request_status, naming every value only one side has.
func CheckEnum(values []string) error {
	var errs []error
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			errs = append(errs, fmt.Errorf("rds.request_status: %q is listed twice", v))
			continue
		}
		seen[v] = true
		if !State(v).Persistable() {
			errs = append(errs, fmt.Errorf("rds.request_status: %q has no place in the request lifecycle (it knows %s)", v, Join(persisted, ", ")))
		}
	}
	for _, s := range persisted {
		if !seen[string(s)] {
			errs = append(errs, fmt.Errorf("rds.request_status: the request lifecycle has status %q, which the enum lacks", s))
		}
	}
	return errors.Join(errs...)
}

// Join lists states with sep.
func Join(ss []State, sep string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, sep)
}

func orList(ss []State) string {
	if len(ss) < 2 {
		return Join(ss, "")
	}
	return Join(ss[:len(ss)-1], ", ") + " or " + string(ss[len(ss)-1])
}

// Reason says why a request is in its state: a CamelCase word, stable for
// machines (catalog, metrics), with a headline for people.
type Reason string

// Reasons. Each belongs to one state (see Reason.State).
const (
	// pending
	Received           Reason = "Received"           // valid, pull request not yet written
	Invalid            Reason = "Invalid"            // the request has problems to fix
	NameTaken          Reason = "NameTaken"          // another request holds the environment and name
	WaitingForApproval Reason = "WaitingForApproval" // pull request open, approvals missing
	ForeignChange      Reason = "ForeignChange"      // someone else changed the request's branch
	BranchTaken        Reason = "BranchTaken"        // the branch exists and is not rdsbot's
	PullClosed         Reason = "PullClosed"         // the pull request was closed without merging
	AlreadyOnBase      Reason = "AlreadyOnBase"      // the base branch already holds the request, with no pull request of it

	// approved
	ReadyToMerge Reason = "ReadyToMerge" // approvals complete, not merged yet
	Merged       Reason = "Merged"       // merged with verified approvals; apply comes next

	// applying, provisioning, active
	ApplyStarted     Reason = "ApplyStarted"
	ProvisionStarted Reason = "ProvisionStarted"
	Provisioned      Reason = "Provisioned"

	// failed
	MergedWithoutApproval Reason = "MergedWithoutApproval"
	ApplyFailed           Reason = "ApplyFailed"
	ProvisionFailed       Reason = "ProvisionFailed"

	// decommissioning, decommissioned
	DecommissionStarted Reason = "DecommissionStarted"
	DecommissionDone    Reason = "Decommissioned"

	// withdrawn
	IssueClosed Reason = "IssueClosed"
)

type reasonInfo struct {
	state    State
	headline string
}

var reasons = map[Reason]reasonInfo{
	Received:              {Pending, "received"},
	Invalid:               {Pending, "needs changes"},
	NameTaken:             {Pending, "name already requested"},
	WaitingForApproval:    {Pending, "waiting for approval"},
	ForeignChange:         {Pending, "blocked: its branch was changed by someone else"},
	BranchTaken:           {Pending, "blocked: its branch belongs to someone else"},
	PullClosed:            {Pending, "pull request closed without merging"},
	AlreadyOnBase:         {Pending, "already on the base branch"},
	ReadyToMerge:          {Approved, "approved, ready to merge"},
	Merged:                {Approved, "merged"},
	ApplyStarted:          {Applying, "applying"},
	ProvisionStarted:      {Provisioning, "provisioning"},
	Provisioned:           {Active, "active"},
	MergedWithoutApproval: {Failed, "failed: merged without the required approvals"},
	ApplyFailed:           {Failed, "failed: terraform apply"},
	ProvisionFailed:       {Failed, "failed: provisioning"},
	DecommissionStarted:   {Decommissioning, "decommissioning"},
	DecommissionDone:      {Decommissioned, "decommissioned"},
	IssueClosed:           {Withdrawn, "withdrawn"},
}

// State is the state a reason belongs to ("" for an unknown reason).
func (r Reason) State() State { return reasons[r].state }

// Headline is a few words for people.
func (r Reason) Headline() string {
	if i, ok := reasons[r]; ok {
		return i.headline
	}
	return string(r)
}

// Status is where one request stands: a state, why, and what to do.
type Status struct {
	State  State
	Reason Reason
	// Message says what happened, in one or two plain sentences. It is
	// markdown as written: whoever quotes user, terraform or server text in
	// it escapes that text (md.Text).
	Message string
	// Action, when set, is the one thing the requester must do next.
	Action string
	// Since is when the request entered this status (zero before merge,
	// where status is derived afresh each time).
	Since time.Time
	// Commit is the commit the status reflects (the merge commit, or the
	// pull request head).
	Commit string
}

// For returns the status of reason r with its state filled in.
func For(r Reason, message string) Status {
	return Status{State: r.State(), Reason: r, Message: message}
}

// Headline is the status in a few words.
func (s Status) Headline() string {
	if s.Reason != "" {
		return s.Reason.Headline()
	}
	return string(s.State)
}

// Step is one line of the progress list every view shows.
type Step int

// Steps, in order.
const (
	StepValid Step = iota
	StepPull
	StepApproved
	StepMerged
	StepApplied
	StepProvisioned
)

// Steps is the progress list in order.
var Steps = []Step{StepValid, StepPull, StepApproved, StepMerged, StepApplied, StepProvisioned}

// Mark is how a step shows.
type Mark int

// Marks.
const (
	Todo Mark = iota
	Done
	Current
	Stopped
)

// Progress returns the mark of each step of Steps for s.
func (s Status) Progress() []Mark {
	done, stopped := s.reached()
	out := make([]Mark, len(Steps))
	for i := range Steps {
		switch {
		case i < done:
			out[i] = Done
		case i == done && stopped:
			out[i] = Stopped
		case i == done:
			out[i] = Current
		}
	}
	return out
}

// reached is the number of steps done, and whether the next one stopped.
func (s Status) reached() (int, bool) {
	switch s.Reason {
	case Invalid, NameTaken:
		return int(StepValid), true
	case Received:
		return int(StepPull), false
	case ForeignChange, BranchTaken, PullClosed:
		return int(StepApproved), true
	case WaitingForApproval:
		return int(StepApproved), false
	case ReadyToMerge:
		return int(StepMerged), false
	case MergedWithoutApproval:
		return int(StepApproved), true
	case IssueClosed:
		return int(StepPull), true
	}
	switch s.State {
	case Approved:
		return int(StepApplied), false
	case Applying:
		return int(StepApplied), false
	case Provisioning:
		return int(StepProvisioned), false
	case Active, Decommissioning, Decommissioned:
		return len(Steps), false
	case Failed:
		if s.Reason == ProvisionFailed {
			return int(StepProvisioned), true
		}
		return int(StepApplied), true
	}
	return 0, false
}
