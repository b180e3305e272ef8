package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"gopkg.in/yaml.v3"
)

// Layout says how a repository splits its catalog into files.
type Layout string

const (
	// LayoutPerEnv is one file per environment, rds-catalog/<env>.yaml, with
	// environment (and rds_instance, when known) in the header. The default.
	LayoutPerEnv Layout = "per-env"
	// LayoutSingleFile is the original's one file for every environment,
	// keyed by database name, the environment only inside each entry.
	LayoutSingleFile Layout = "single-file"
)

// ParseLayout returns the layout named by s; "" means LayoutPerEnv.
func ParseLayout(s string) (Layout, error) {
	switch Layout(s) {
	case "", LayoutPerEnv:
		return LayoutPerEnv, nil
	case LayoutSingleFile:
		return LayoutSingleFile, nil
	}
	return "", fmt.Errorf("catalog layout %q is not one of %q or %q", s, LayoutPerEnv, LayoutSingleFile)
}

// Header values written into every catalog file.
const (
	DefaultVersion = "1.0"           // version, set when the file has none
	DefaultDomain  = "platform-core" // domain, set when the file has none
	PlatformTeam   = "platform-team" // owner and managed_by, forced on every change
)

// Options say which file is being read and how it is laid out.
type Options struct {
	// Layout is LayoutPerEnv ("" means the same) or LayoutSingleFile.
	Layout Layout
	// Environment is the environment a per-env file belongs to (required for
	// LayoutPerEnv, ignored for LayoutSingleFile).
	Environment string
	// RDSInstance is the real identifier of the environment's RDS instance.
	// When not empty, a per-env file records it as rds_instance on its next
	// change. Ignored for LayoutSingleFile.
	RDSInstance string
	// Filename names the file in error messages.
	Filename string
}

func (o Options) normalize() (Options, error) {
	l, err := ParseLayout(string(o.Layout))
	if err != nil {
		return o, err
	}
	o.Layout = l
	if o.Filename == "" {
		o.Filename = "catalog"
	}
	if l == LayoutSingleFile {
		o.Environment, o.RDSInstance = "", ""
		return o, nil
	}
	if o.Environment == "" {
		return o, fmt.Errorf("%s: the per-env catalog layout needs the file's environment (Options.Environment)", o.Filename)
	}
	if bad := singleLineRule(o.Environment); bad != "" {
		return o, fmt.Errorf("%s: environment %q %s", o.Filename, o.Environment, bad)
	}
	if bad := singleLineRule(o.RDSInstance); bad != "" {
		return o, fmt.Errorf("%s: rds_instance %q %s", o.Filename, o.RDSInstance, bad)
	}
	return o, nil
}

// Header is the typed view of a catalog file's top-level fields.
type Header struct {
	Version     string
	Domain      string
	Owner       string
	ManagedBy   string
	LastUpdated string // YYYY-MM-DD, UTC
	Environment string // per-env layout only
	RDSInstance string // per-env layout only, when known
}

// Entry is one database of the catalog.
type Entry struct {
	Name          string // the key under databases
	Line          int    // line of the key in the parsed file; 0 for an entry added since
	Metadata      Metadata
	Configuration Configuration
}

// Metadata is an entry's metadata block.
type Metadata struct {
	ID          string // DATABASE_<UPPER NAME>
	RequestID   string // RDS-0042
	Owner       string
	RequestedBy string
	Domain      string
	Risk        string
	Environment string
	Status      Status
	CreatedDate string // YYYY-MM-DD, UTC; set once, when the entry is created
	PRNumber    int    // 0 when not recorded
	PRURL       string
	History     []StatusEvent
}

// StatusEvent is one step of an entry's status history.
type StatusEvent struct {
	Status Status
	At     time.Time // UTC, whole seconds
	Reason lifecycle.Reason
	Note   string
	Commit string // the commit the status reflects
}

// Configuration is an entry's configuration block.
type Configuration struct {
	Username      string
	SizeTier      string
	InstanceClass string
	SecretPath    string
}

// YAML keys, and the order in which missing keys are inserted.
const (
	keyDatabases     = "databases"
	keyMetadata      = "metadata"
	keyConfiguration = "configuration"
	keyStatus        = "status"
	keyHistory       = "status_history"
)

var (
	headerOrder        = []string{"version", "domain", "owner", "last_updated", "managed_by", "environment", "rds_instance", keyDatabases}
	entryOrder         = []string{keyMetadata, keyConfiguration}
	metadataOrder      = []string{"id", "request_id", "owner", "requested_by", "domain", "risk", "environment", keyStatus, "created_date", "pr", "pr_url", keyHistory}
	configurationOrder = []string{"username", "size_tier", "instance_class", "secret_path"}
	eventOrder         = []string{keyStatus, "at", "reason", "note", "commit"}
)

// Sentinel errors wrapped by Upsert and SetStatus.
var (
	// ErrConflict: the request collides with an entry it does not own
	// (another request, another environment, or a status that forbids edits).
	ErrConflict = errors.New("catalog conflict")
	// ErrNotFound: no entry for that database and environment.
	ErrNotFound = errors.New("catalog entry not found")
)

// kindError carries its own message and matches a sentinel with errors.Is.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func conflictf(format string, args ...any) error {
	return &kindError{kind: ErrConflict, msg: fmt.Sprintf(format, args...)}
}

// File is a parsed catalog document. Its methods edit the YAML node tree in
// place; Bytes renders it. A File is not safe for concurrent use.
type File struct {
	opts  Options
	src   []byte
	doc   *yaml.Node // DocumentNode
	root  *yaml.Node // the top-level mapping
	index map[string]int
	dirty bool
	out   []byte // cached rendering of a dirty file
}

// New returns the catalog a missing file would hold: the header and
// `databases: {}`. Like any File, it renders nothing new until changed.
func New(opts Options) (*File, error) { return Parse(nil, opts) }

// Parse reads a catalog file. Empty input (a missing file) or input holding
// only comments is seeded with the header and `databases: {}`, keeping the
// comments. Parse fails when the input is not YAML, holds several documents,
// is not a mapping, has a `databases` that is not a mapping, repeats a key,
// uses anchors or aliases, or (per-env) names another environment. Problems
// inside entries do not fail Parse; Validate reports them.
func Parse(src []byte, opts Options) (*File, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	f := &File{opts: opts, src: src}
	doc, err := decodeDocument(src, opts.Filename)
	if err != nil {
		return nil, err
	}
	if doc == nil || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		if doc == nil {
			doc = &yaml.Node{Kind: yaml.DocumentNode, HeadComment: commentLines(src)}
		}
		f.doc = doc
		f.seed()
	} else {
		f.doc = doc
		f.root = doc.Content[0]
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// Layout returns the file's layout.
func (f *File) Layout() Layout { return f.opts.Layout }

// Options returns the options the file was parsed with (normalized).
func (f *File) Options() Options { return f.opts }

// Changed reports whether an edit changed the document since Parse.
func (f *File) Changed() bool { return f.dirty }

func decodeDocument(src []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fmt.Errorf("%s:%d: holds a second YAML document; a catalog is one document", name, extra.Line)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
	}
	return &doc, nil
}

// commentLines keeps the comments of a file that holds nothing else, so that
// seeding it does not drop them.
func commentLines(src []byte) string {
	var out []string
	for line := range strings.Lines(string(src)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// seed installs the header of an empty file.
func (f *File) seed() {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setKey(root, "version", quotedScalar(DefaultVersion), headerOrder)
	setKey(root, "domain", strScalar(DefaultDomain), headerOrder)
	setKey(root, "owner", strScalar(PlatformTeam), headerOrder)
	setKey(root, "managed_by", strScalar(PlatformTeam), headerOrder)
	if f.opts.Layout == LayoutPerEnv {
		setKey(root, "environment", strScalar(f.opts.Environment), headerOrder)
	}
	setKey(root, keyDatabases, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}, headerOrder)
	f.doc.Content = []*yaml.Node{root}
	f.root = root
}

// check verifies the structure Parse promises and builds the entry index.
func (f *File) check() error {
	name := f.opts.Filename
	var errs []error
	fail := func(n *yaml.Node, path, format string, args ...any) {
		errs = append(errs, &FieldError{File: name, Line: n.Line, Path: path, Rule: fmt.Sprintf(format, args...)})
	}
	walk(f.doc, func(n *yaml.Node) {
		switch {
		case n.Kind == yaml.AliasNode:
			fail(n, "", "YAML aliases (*%s) are not supported in a catalog: rdsbot edits values in place and cannot keep shared values consistent", n.Value)
		case n.Anchor != "":
			fail(n, "", "YAML anchors (&%s) are not supported in a catalog: rdsbot edits values in place and cannot keep shared values consistent", n.Anchor)
		}
	})
	if f.root.Kind != yaml.MappingNode {
		fail(f.root, "", "the top level of a catalog must be a mapping (version, owner, ..., databases), not a %s", kindName(f.root))
		return errors.Join(errs...)
	}
	errs = append(errs, duplicateKeys(name, "", f.root)...)
	if f.opts.Layout == LayoutPerEnv {
		if _, v := lookup(f.root, "environment"); v != nil && !isNull(v) && scalarValue(v) != f.opts.Environment {
			fail(v, "environment", "the file says %q but it is read as the catalog of %q", nodeText(v), f.opts.Environment)
		}
	}
	f.index = map[string]int{}
	if _, dbs := lookup(f.root, keyDatabases); dbs != nil && !isNull(dbs) {
		if dbs.Kind != yaml.MappingNode {
			fail(dbs, keyDatabases, "must be a mapping of database name to entry, not a %s", kindName(dbs))
		} else {
			errs = append(errs, duplicateKeys(name, "databases.", dbs)...)
			for i := 0; i+1 < len(dbs.Content); i += 2 {
				k := dbs.Content[i]
				if k.Kind != yaml.ScalarNode {
					fail(k, keyDatabases, "every key must be a database name, not a %s", kindName(k))
					continue
				}
				f.index[k.Value] = i
			}
		}
	}
	return errors.Join(errs...)
}

func duplicateKeys(file, prefix string, m *yaml.Node) []error {
	var errs []error
	first := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if line, dup := first[k.Value]; dup {
			errs = append(errs, &FieldError{File: file, Line: k.Line, Path: prefix + k.Value,
				Rule: fmt.Sprintf("the key is repeated (first at line %d); YAML keys must be unique", line)})
			continue
		}
		first[k.Value] = k.Line
	}
	return errs
}

// FieldError is a problem at one place of a catalog or of an upsert request:
// the file and line (when known), the dotted path of the field, and the rule
// it breaks, in words.
type FieldError struct {
	File string
	Line int
	Path string // e.g. databases.orders.metadata.status
	Rule string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Rule)
	return b.String()
}
