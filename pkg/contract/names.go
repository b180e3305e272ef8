package contract

import (
	"strings"
	"unicode"

	"github.com/rdsbot/rdsbot/pkg/schema"
)

// FlagName is the CLI flag of a field: databaseName becomes database-name.
func FlagName(field string) string {
	var b strings.Builder
	for i, r := range field {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DisplayName is a field as a requester knows it on a surface: the input
// name (database_name) for a workflow_dispatch, the label ("Database name")
// on the issue form, the path (spec.databaseName) in a contract file, the
// flag (--database-name) on the command line. A field the surface cannot
// express keeps its schema name.
func DisplayName(s *schema.RequestSchema, src Source, field string) string {
	f := s.Fields[field]
	if f == nil {
		return field
	}
	switch src {
	case SourceDispatch:
		if f.Input != "" {
			return f.Input
		}
	case SourceIssue:
		if f.Label != "" && !f.Derived && !f.NotInForm {
			return f.Label
		}
	case SourceFile:
		if contains(contractTopLevel, field) {
			return field
		}
		return "spec." + field
	case SourceFlags:
		return "--" + FlagName(field)
	}
	return field
}

// namer renders fields for one raw request: the name a value was given
// under when it was given, else the surface's name for the field.
func namer(s *schema.RequestSchema, raw Raw) func(string) string {
	return func(field string) string {
		if rv, ok := raw.Values[field]; ok && rv.Name != "" {
			return rv.Name
		}
		return DisplayName(s, raw.Source, field)
	}
}
