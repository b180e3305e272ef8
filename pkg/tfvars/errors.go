package tfvars

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Sentinel errors. Every error returned by the editor is an *Error whose Kind
// is one of these, so callers can branch with errors.Is.
var (
	// ErrSyntax: the input (or, never expected, the output) is not valid HCL.
	ErrSyntax = errors.New("invalid HCL")
	// ErrNotFound: an attribute named by the path does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotMap: an attribute named by the path is not written as an object
	// constructor ({ ... }), so it cannot be edited entry by entry.
	ErrNotMap = errors.New("not a map")
	// ErrDuplicateKey: the key to edit appears more than once in the map.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrInvalidValue: the value or key handed to the editor cannot be written
	// (unknown, non-UTF-8, infinite, duplicate attribute names, ...).
	ErrInvalidValue = errors.New("invalid value")
	// ErrVerify: the edited file failed its own verification. This indicates a
	// bug in the editor; the output is never returned.
	ErrVerify = errors.New("edit verification failed")
)

// Error describes a failed edit or lookup. Its message starts with the file
// name (and line when one applies) and names the attribute path, for example
//
//	envs/dev-rds/terraform.tfvars: attribute "application_databases" not found
type Error struct {
	File string // file name as given by the caller
	Line int    // 1-based line the problem refers to; 0 when there is none
	Path string // dotted attribute path, e.g. rds_config.application_databases
	Kind error  // one of ErrSyntax, ErrNotFound, ...
	Msg  string // the sentence after "file:line: "
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the error's Kind so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

func newError(file string, line int, path Path, kind error, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Path: path.String(), Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// syntaxError turns HCL diagnostics into one *Error listing every error.
func syntaxError(file string, diags hcl.Diagnostics, what string) *Error {
	var msgs []string
	line := 0
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			if line == 0 {
				line = d.Subject.Start.Line
			}
			m = fmt.Sprintf("line %d: %s", d.Subject.Start.Line, m)
		}
		msgs = append(msgs, m)
	}
	return &Error{File: file, Line: line, Kind: ErrSyntax, Msg: what + ": " + strings.Join(msgs, "; ")}
}
