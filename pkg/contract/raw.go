package contract

// Source says where a request came from.
type Source string

// Request sources.
const (
	SourceDispatch           Source = "workflow_dispatch"
	SourceRepositoryDispatch Source = "repository_dispatch"
	SourceIssue              Source = "issue"
	SourceFile               Source = "file"
	SourceFlags              Source = "cli"
)

// Kind is how a raw value was written, which decides how strictly it converts
// to the field's type.
type Kind int

// Raw value kinds.
const (
	// KindText is untyped text: a dispatch input, an issue-form answer or a
	// flag. "20" converts to an integer and "true" to a boolean.
	KindText Kind = iota
	// KindString is a typed string, such as a quoted YAML scalar: it never
	// converts to an integer or a boolean.
	KindString
	// KindInt is a typed integer.
	KindInt
	// KindBool is a typed boolean.
	KindBool
	// KindOther is any other typed value (a float, a list, a mapping).
	KindOther
	// KindFloat is a typed number with a fraction (7.5, 7.0).
	KindFloat
	// KindList is a list.
	KindList
	// KindMap is a mapping (an object).
	KindMap
)

func (k Kind) String() string {
	switch k {
	case KindString:
		return "quoted text"
	case KindInt:
		return "a number"
	case KindBool:
		return "true or false"
	case KindFloat:
		return "a number with a fraction"
	case KindList:
		return "a list"
	case KindMap:
		return "a mapping"
	case KindOther:
		return "a structured value"
	}
	return "text"
}

// RawValue is one field as received, before validation.
type RawValue struct {
	Text   string // the value as written
	Kind   Kind
	Origin string // where it was read: `input "database_name"`, `section "Database name"`, `spec.databaseName`, line numbers
	// Name is the field as the requester wrote it on this surface:
	// database_name, "Database name", spec.databaseName, --database-name.
	Name string
}

// Raw is a request as received: canonical field name (as in the schema) to
// value, plus the source. Empty answers are left out.
type Raw struct {
	Source Source
	Values map[string]RawValue
	// Title and Description are free text carried from the source (the YAML
	// metadata block, an issue title); they are not validated fields.
	Title       string
	Description string
	// Status and Created are a contract file's status and metadata.created
	// ("" when absent); they are records, not request fields.
	Status  string
	Created string
	// Unreadable is set when the source could not be read at all (a YAML
	// syntax error): Validate then reports that problem alone.
	Unreadable *Problem
}

func newRaw(src Source) Raw { return Raw{Source: src, Values: map[string]RawValue{}} }

// Set records a value; an empty text is treated as not given.
func (r Raw) Set(field string, v RawValue) {
	if v.Kind == KindText && v.Text == "" {
		delete(r.Values, field)
		return
	}
	r.Values[field] = v
}
