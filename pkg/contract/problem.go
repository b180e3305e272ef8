package contract

import (
	"fmt"
	"strings"
)

// Severity of a problem.
type Severity string

// Severities: an error rejects the request, a warning is shown and accepted.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Problem is one thing wrong with a request: the field, the value it had, and
// the rule it broke in words a requester understands.
type Problem struct {
	Field    string // canonical field name, "" for the request as a whole
	Name     string // the field as the requester knows it on this surface ("" for Field)
	Label    string // the field's form label, when it has one
	Value    string // the offending value as written ("" when missing)
	Message  string // the rule, as a sentence fragment: `must be one of: dev, test`
	Rule     string // the schema rule's name for conditional rules
	Origin   string // where the value was read from
	Severity Severity
}

// String renders a problem on one line: `databaseName: "Orders" must be ...`.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Name != "":
		b.WriteString(p.Name)
		b.WriteString(": ")
	case p.Field != "":
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	if p.Value != "" {
		fmt.Fprintf(&b, "%q ", p.Value)
	}
	if p.Rule != "" && p.Value != "" {
		b.WriteString("is not allowed: ")
	}
	b.WriteString(p.Message)
	if p.Severity == Warning {
		b.WriteString(" (warning)")
	}
	return b.String()
}

// Problems is every problem of one request, in field order.
type Problems []Problem

// Errors returns the problems that reject the request.
func (ps Problems) Errors() Problems { return ps.filter(Error) }

// Warnings returns the problems that are only shown.
func (ps Problems) Warnings() Problems { return ps.filter(Warning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err returns an error listing every error-severity problem, or nil.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs}
}

// InvalidError is a rejected request.
type InvalidError struct{ Problems Problems }

func (e *InvalidError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	lines = append(lines, fmt.Sprintf("invalid request (%d %s):", len(e.Problems), noun))
	for _, p := range e.Problems {
		lines = append(lines, "  - "+p.String())
	}
	return strings.Join(lines, "\n")
}
