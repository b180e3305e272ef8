package policy

import "time"

// RequirementKind says how a requirement is met.
type RequirementKind string

// Requirement kinds.
const (
	// NeedReview is an APPROVED review by a member of one reviewer group.
	NeedReview RequirementKind = "review"
	// NeedHuman is the one human approval an environment outside
	// approvals.self_serve_environments needs when routing names no group:
	// an APPROVED review by a member of any approvals.human_approval_groups.
	NeedHuman RequirementKind = "human"
	// NeedLabel is a label added by a member of one group.
	NeedLabel RequirementKind = "label"
)

// Requirement is one thing the pull request needs, and how far it is.
type Requirement struct {
	Kind   RequirementKind
	Groups []string // the reviewer group (one; several for NeedHuman)
	Teams  []string // their GitHub team slugs, same order
	Label  string   // NeedLabel only
	Reason string   // why it is needed, from the schema (labels)

	Satisfied bool
	By        Actor     // who satisfied it
	At        time.Time // when
	// Stale are approvals that would count but were given on other
	// content, or by someone who already counts for another group.
	Stale []Attempt
}

// Attempt is an approval or approval label that does not count, and why.
type Attempt struct {
	Actor  Actor
	Via    string // "review" or "label"
	Label  string // the label, when Via is "label"
	At     time.Time
	Reason string // a sentence fragment following the login: "is a bot"
}

// Block is a CHANGES_REQUESTED review by an active member of a team the
// request needs; it holds the check until its author approves or it is
// dismissed.
type Block struct {
	Actor Actor
	Team  string
	At    time.Time
}

// Removal is an approval label the bot must remove, and the reason for the
// one comment it writes.
type Removal struct {
	Label   string
	AddedBy Actor
	Reason  string // a sentence fragment following the login: "is not an active member of platform-team"
}

// BreakGlass is the state of the break-glass label.
type BreakGlass struct {
	Label   string
	Present bool
	Valid   bool   // present, added by an allowed member on the current content
	By      Actor  // who added it
	Reason  string // why it is not valid, when present
}

// Check run states, as GitHub names them.
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	ConclusionOK     = "success"
)

// Check is what the bot writes as the rdsbot/approval check run.
type Check struct {
	Status     string // StatusInProgress or StatusCompleted
	Conclusion string // ConclusionOK when completed, else ""
	Title      string // plain text
	Summary    string // markdown, user text escaped
}

// MergeDecision is the merge-time re-check's verdict on what merged.
type MergeDecision struct {
	Proceed    bool
	BreakGlass bool // proceeds only because of a valid break-glass label (audit it)
	Warned     bool // proceeds only because the environment is in warn mode
	Reason     string
}

// Decision answers whether someone may do something.
type Decision struct {
	Allowed bool
	Reason  string
}
