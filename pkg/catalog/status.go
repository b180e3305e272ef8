package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Status is the lifecycle state of a database request, one of the values of
// the schema enum rds.request_status.
type Status string

// The statuses of rds.request_status, in lifecycle order.
const (
	StatusPending         Status = "pending"
	StatusApproved        Status = "approved"
	StatusProvisioning    Status = "provisioning"
	StatusActive          Status = "active"
	StatusFailed          Status = "failed"
	StatusDecommissioning Status = "decommissioning"
	StatusDecommissioned  Status = "decommissioned"
)

// allStatuses is the order used in messages (the enum's order).
var allStatuses = []Status{
	StatusPending, StatusApproved, StatusProvisioning, StatusActive,
	StatusFailed, StatusDecommissioning, StatusDecommissioned,
}

// transitions is the whole state machine: status → legal next statuses.
// pending → provisioning is deliberately absent; see the package
// documentation for why approval is its own step.
var transitions = map[Status][]Status{
	StatusPending:         {StatusApproved},
	StatusApproved:        {StatusProvisioning},
	StatusProvisioning:    {StatusActive, StatusFailed},
	StatusFailed:          {StatusProvisioning},
	StatusActive:          {StatusDecommissioning},
	StatusDecommissioning: {StatusDecommissioned},
	StatusDecommissioned:  nil,
}

// ErrIllegalTransition is wrapped by every *TransitionError.
var ErrIllegalTransition = errors.New("illegal status transition")

// Statuses returns every status the state machine knows, in enum order.
func Statuses() []Status { return slices.Clone(allStatuses) }

// Known reports whether s is one of the seven statuses.
func (s Status) Known() bool {
	_, ok := transitions[s]
	return ok
}

// Next returns the statuses s may move to, in enum order; nil for the final
// status (decommissioned) and for unknown statuses.
func (s Status) Next() []Status { return slices.Clone(transitions[s]) }

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s.Known() && len(transitions[s]) == 0 }

// ParseStatus returns the Status named by v, or an error listing the known
// statuses.
func ParseStatus(v string) (Status, error) {
	s := Status(v)
	if !s.Known() {
		return "", fmt.Errorf("unknown status %q (known: %s)", v, joinStatuses(allStatuses))
	}
	return s, nil
}

// TransitionError is returned for a transition the state machine forbids. It
// wraps ErrIllegalTransition.
type TransitionError struct {
	From, To Status
}

func (e *TransitionError) Error() string {
	switch {
	case !e.From.Known():
		return fmt.Sprintf("illegal status transition %q → %q: the current status %q is not a known status (known: %s)",
			e.From, e.To, e.From, joinStatuses(allStatuses))
	case !e.To.Known():
		return fmt.Sprintf("illegal status transition %s → %q: %q is not a known status (known: %s)",
			e.From, e.To, e.To, joinStatuses(allStatuses))
	case e.From.Final():
		return fmt.Sprintf("illegal status transition %s → %s: %s is final, no transition leaves it", e.From, e.To, e.From)
	default:
		return fmt.Sprintf("illegal status transition %s → %s: from %s the next status can only be %s",
			e.From, e.To, e.From, orStatuses(transitions[e.From]))
	}
}

func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }

// CheckTransition returns nil when from → to is legal and a *TransitionError
// otherwise. Staying in the same status is not a transition and is an error.
func CheckTransition(from, to Status) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// CheckStatusEnum compares the statuses this package knows with the values
// of the schema enum rds.request_status (order does not matter) and returns
// an error naming every value that only one side has, or a duplicate.
func CheckStatusEnum(values []string) error {
	var errs []error
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v] {
			errs = append(errs, fmt.Errorf("rds.request_status: %q is listed twice", v))
			continue
		}
		seen[v] = true
		if !Status(v).Known() {
			errs = append(errs, fmt.Errorf("rds.request_status: %q has no place in the catalog state machine (it knows %s)",
				v, joinStatuses(allStatuses)))
		}
	}
	for _, s := range allStatuses {
		if !seen[string(s)] {
			errs = append(errs, fmt.Errorf("rds.request_status: the catalog state machine has status %q, which the enum lacks", s))
		}
	}
	return errors.Join(errs...)
}

// joinStatuses lists statuses separated by commas.
func joinStatuses(ss []Status) string {
	return strings.Join(statusStrings(ss), ", ")
}

// orStatuses lists statuses as alternatives: "a", "a or b", "a, b or c".
func orStatuses(ss []Status) string {
	parts := statusStrings(ss)
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func statusStrings(ss []Status) []string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return parts
}
