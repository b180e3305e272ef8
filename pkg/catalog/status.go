package catalog

import (
	"github.com/rdsbot/rdsbot/pkg/lifecycle"
)

// Status is the lifecycle state of a database request, one of the values of
// the schema enum rds.request_status. The model, its transitions and its
// reasons live in pkg/lifecycle, shared with the bot's views.
type Status = lifecycle.State

// The statuses of rds.request_status, in lifecycle order.
const (
	StatusPending         = lifecycle.Pending
	StatusApproved        = lifecycle.Approved
	StatusApplying        = lifecycle.Applying
	StatusProvisioning    = lifecycle.Provisioning
	StatusActive          = lifecycle.Active
	StatusFailed          = lifecycle.Failed
	StatusDecommissioning = lifecycle.Decommissioning
	StatusDecommissioned  = lifecycle.Decommissioned
)

// ErrIllegalTransition is wrapped by every *TransitionError.
var ErrIllegalTransition = lifecycle.ErrIllegalTransition

// TransitionError is a transition the state machine forbids.
type TransitionError = lifecycle.TransitionError

// Statuses returns every status a catalog may hold, in enum order.
func Statuses() []Status { return lifecycle.Persisted() }

// ParseStatus returns the Status named by v, or an error listing the known
// statuses.
func ParseStatus(v string) (Status, error) { return lifecycle.ParseState(v) }

// CheckTransition returns nil when from → to is legal and a *TransitionError
// otherwise. Staying in the same status is not a transition and is an error.
func CheckTransition(from, to Status) error { return lifecycle.CheckTransition(from, to) }

// CheckStatusEnum compares the statuses a catalog may hold with the values
// of the schema enum rds.request_status.
func CheckStatusEnum(values []string) error { return lifecycle.CheckEnum(values) }
