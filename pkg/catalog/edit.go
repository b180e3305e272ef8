package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"gopkg.in/yaml.v3"
)

// Spec is the part of an entry a request controls. Status, created_date and
// the status history are not in it: the catalog owns them.
type Spec struct {
	Name          string // database name, the key under databases
	RequestID     string // RDS-<issue number, 4+ digits>
	Owner         string
	RequestedBy   string
	Domain        string
	Risk          string
	Environment   string
	PRNumber      int    // 0: not known yet (an existing value is kept)
	PRURL         string // "": not known yet (an existing value is kept)
	Configuration Configuration
}

// LegacyID is the metadata.id of a database: DATABASE_<NAME in upper case>.
func LegacyID(name string) string { return "DATABASE_" + strings.ToUpper(name) }

var (
	namePattern      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	requestIDPattern = regexp.MustCompile(`^RDS-[0-9]{4,}$`)
	datePattern      = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// validate returns every problem of s at once.
func (s Spec) validate(f *File) error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{File: f.opts.Filename, Path: path, Rule: fmt.Sprintf(format, args...)})
	}
	if !namePattern.MatchString(s.Name) {
		add("name", "%q must start with a lower-case letter and hold at most 63 lower-case letters, digits, _ or -", s.Name)
	}
	prefix := "databases." + s.Name + "."
	if !requestIDPattern.MatchString(s.RequestID) {
		add(prefix+"metadata.request_id", "%q must look like RDS-0042 (RDS- and at least four digits)", s.RequestID)
	}
	fields := []struct {
		path, value string
		required    bool
	}{
		{"metadata.owner", s.Owner, true},
		{"metadata.requested_by", s.RequestedBy, true},
		{"metadata.domain", s.Domain, true},
		{"metadata.risk", s.Risk, true},
		{"metadata.environment", s.Environment, true},
		{"metadata.pr_url", s.PRURL, false},
		{"configuration.username", s.Configuration.Username, true},
		{"configuration.size_tier", s.Configuration.SizeTier, true},
		{"configuration.instance_class", s.Configuration.InstanceClass, true},
		{"configuration.secret_path", s.Configuration.SecretPath, true},
	}
	for _, fd := range fields {
		switch {
		case fd.value == "":
			if fd.required {
				add(prefix+fd.path, "is required")
			}
		case singleLineRule(fd.value) != "":
			add(prefix+fd.path, "%q %s", fd.value, singleLineRule(fd.value))
		case strings.TrimSpace(fd.value) != fd.value:
			add(prefix+fd.path, "%q must not start or end with spaces", fd.value)
		}
	}
	if s.PRNumber < 0 {
		add(prefix+"metadata.pr", "%d must be a pull request number (1 or more), or 0 when not known yet", s.PRNumber)
	}
	if f.opts.Layout == LayoutPerEnv && s.Environment != "" && s.Environment != f.opts.Environment {
		add(prefix+"metadata.environment", "%q does not belong in %s, the catalog of %q", s.Environment, f.opts.Filename, f.opts.Environment)
	}
	return errors.Join(errs...)
}

// Upsert records a request in the catalog. A new entry starts as pending,
// with created_date and a first history event taken from now. An existing
// entry of the same request keeps its status, created_date and history; its
// other fields are brought up to date, which is allowed only while it is
// pending or failed. Upsert reports whether the document changed; when it
// did not, Bytes returns the input unchanged.
//
// Upsert fails with an error wrapping ErrConflict when the name belongs to
// another request (or to an entry that records no request_id), to another
// environment in the single-file layout, or when a change is asked of an
// entry that is no longer pending or failed. Nothing is changed then.
func (f *File) Upsert(s Spec, now time.Time) (bool, error) {
	if now.IsZero() {
		return false, errors.New("catalog: Upsert needs the current time")
	}
	if err := s.validate(f); err != nil {
		return false, err
	}
	k, v := f.entryNode(s.Name)
	if k == nil {
		f.insertEntry(s, now)
		f.touch(now)
		return true, nil
	}
	if err := f.checkEntryShape(s.Name, v); err != nil {
		return false, err
	}
	old := decodeEntry(s.Name, v)
	if err := f.checkOwnership(old, s); err != nil {
		return false, err
	}
	diffs := specDiff(old, s)
	if len(diffs) == 0 {
		return false, nil
	}
	if st := old.Metadata.Status; st != StatusPending && st != StatusFailed {
		return false, conflictf("%s: database %q in %s is %s; request %s can change its entry only while it is pending or failed (it would change %s)",
			f.opts.Filename, s.Name, s.Environment, statusText(st), s.RequestID, strings.Join(diffs, "; "))
	}
	f.applySpec(v, s)
	f.touch(now)
	return true, nil
}

// checkOwnership refuses a request that would take over an entry it does
// not own.
func (f *File) checkOwnership(old Entry, s Spec) error {
	md := old.Metadata
	switch {
	case md.Environment != s.Environment && f.opts.Layout == LayoutSingleFile && md.Environment == "":
		return conflictf("%s: database %q already exists and records no metadata.environment, so it cannot be told apart from the %s database request %s asks for; fill in its environment by hand first",
			f.opts.Filename, s.Name, s.Environment, s.RequestID)
	case md.Environment != s.Environment && f.opts.Layout == LayoutSingleFile:
		return conflictf("%s: database %q already exists in environment %s%s; this catalog keeps one entry per database name for all environments, so request %s cannot record %q for %s without overwriting it; choose another database name, or move the catalog to the per-env layout",
			f.opts.Filename, s.Name, md.Environment, requestText(md.RequestID), s.RequestID, s.Name, s.Environment)
	case md.Environment != s.Environment && md.Environment != "":
		return conflictf("%s: the existing entry %q says environment %q, but this file is the catalog of %q; fix the entry by hand first",
			f.opts.Filename, s.Name, md.Environment, f.opts.Environment)
	case md.RequestID == "":
		return conflictf("%s: database %q in %s already exists and records no metadata.request_id (it predates rdsbot), so request %s cannot take it over; if it is this request's database, add \"request_id: %s\" to its metadata by hand first",
			f.opts.Filename, s.Name, s.Environment, s.RequestID, s.RequestID)
	case md.RequestID != s.RequestID:
		return conflictf("%s: database %q in %s already belongs to request %s (status %s); request %s cannot take it over; choose another database name",
			f.opts.Filename, s.Name, s.Environment, md.RequestID, statusText(md.Status), s.RequestID)
	}
	return nil
}

func requestText(id string) string {
	if id == "" {
		return ""
	}
	return " (request " + id + ")"
}

func statusText(s Status) string {
	if s == "" {
		return "without a status"
	}
	return string(s)
}

// specDiff lists the fields s would change in old, as "path: old → new".
func specDiff(old Entry, s Spec) []string {
	var diffs []string
	cmp := func(path, was, want string) {
		if was != want {
			diffs = append(diffs, fmt.Sprintf("%s %q → %q", path, was, want))
		}
	}
	md, c := old.Metadata, old.Configuration
	if md.ID == "" {
		cmp("metadata.id", md.ID, LegacyID(s.Name))
	}
	cmp("metadata.owner", md.Owner, s.Owner)
	cmp("metadata.requested_by", md.RequestedBy, s.RequestedBy)
	cmp("metadata.domain", md.Domain, s.Domain)
	cmp("metadata.risk", md.Risk, s.Risk)
	cmp("metadata.environment", md.Environment, s.Environment)
	if s.PRNumber != 0 && md.PRNumber != s.PRNumber {
		diffs = append(diffs, fmt.Sprintf("metadata.pr %d → %d", md.PRNumber, s.PRNumber))
	}
	if s.PRURL != "" {
		cmp("metadata.pr_url", md.PRURL, s.PRURL)
	}
	cmp("configuration.username", c.Username, s.Configuration.Username)
	cmp("configuration.size_tier", c.SizeTier, s.Configuration.SizeTier)
	cmp("configuration.instance_class", c.InstanceClass, s.Configuration.InstanceClass)
	cmp("configuration.secret_path", c.SecretPath, s.Configuration.SecretPath)
	return diffs
}

// applySpec writes the request-controlled fields of s into entry node v.
// Status, created_date and history are left alone.
func (f *File) applySpec(v *yaml.Node, s Spec) {
	md := ensureMapping(v, keyMetadata, entryOrder)
	str := func(m *yaml.Node, key, value string, order []string) {
		setScalar(m, key, value, "!!str", false, order)
	}
	if _, id := lookup(md, "id"); scalarValue(id) == "" {
		str(md, "id", LegacyID(s.Name), metadataOrder) // an existing id is never changed
	}
	str(md, "request_id", s.RequestID, metadataOrder)
	str(md, "owner", s.Owner, metadataOrder)
	str(md, "requested_by", s.RequestedBy, metadataOrder)
	str(md, "domain", s.Domain, metadataOrder)
	str(md, "risk", s.Risk, metadataOrder)
	str(md, "environment", s.Environment, metadataOrder)
	if s.PRNumber != 0 {
		setScalar(md, "pr", strconv.Itoa(s.PRNumber), "!!int", false, metadataOrder)
	}
	if s.PRURL != "" {
		str(md, "pr_url", s.PRURL, metadataOrder)
	}
	cf := ensureMapping(v, keyConfiguration, entryOrder)
	str(cf, "username", s.Configuration.Username, configurationOrder)
	str(cf, "size_tier", s.Configuration.SizeTier, configurationOrder)
	str(cf, "instance_class", s.Configuration.InstanceClass, configurationOrder)
	str(cf, "secret_path", s.Configuration.SecretPath, configurationOrder)
}

// ensureMapping returns the mapping under key in m, creating it (block
// style) when it is missing or null.
func ensureMapping(m *yaml.Node, key string, order []string) *yaml.Node {
	if _, v := lookup(m, key); v != nil && v.Kind == yaml.MappingNode {
		return v
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setKey(m, key, n, order)
	_, v := lookup(m, key)
	return v
}

// insertEntry adds a new pending entry for s. Entries are kept in name
// order when the file already is; otherwise the new one goes last.
func (f *File) insertEntry(s Spec, now time.Time) {
	_, dbs := lookup(f.root, keyDatabases)
	if dbs == nil || dbs.Kind != yaml.MappingNode {
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if dbs != nil {
			moveComments(dbs, n)
		}
		setKey(f.root, keyDatabases, n, headerOrder)
		_, dbs = lookup(f.root, keyDatabases)
	}
	if len(dbs.Content) == 0 && dbs.Style&yaml.FlowStyle != 0 {
		// `databases: {}` becomes a block mapping. A block mapping has no
		// place for the line comment of `{}`, so it moves to the key.
		dbs.Style &^= yaml.FlowStyle
		if k, _ := lookup(f.root, keyDatabases); dbs.LineComment != "" {
			k.LineComment = strings.TrimSpace(k.LineComment + " " + dbs.LineComment)
			dbs.LineComment = ""
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	md := ensureMapping(v, keyMetadata, entryOrder)
	ensureMapping(v, keyConfiguration, entryOrder)
	f.applySpec(v, s)
	setScalar(md, keyStatus, string(StatusPending), "!!str", false, metadataOrder)
	setScalar(md, "created_date", now.UTC().Format(time.DateOnly), "!!str", true, metadataOrder)
	appendEvent(md, Change{To: StatusPending, At: now})

	pos := len(dbs.Content)
	var names []string
	for i := 0; i+1 < len(dbs.Content); i += 2 {
		names = append(names, dbs.Content[i].Value)
	}
	if slices.IsSorted(names) {
		i, _ := slices.BinarySearch(names, s.Name)
		pos = 2 * i
	}
	dbs.Content = slices.Insert(dbs.Content, pos, strScalar(s.Name), v)
	f.reindex(dbs)
}

func (f *File) reindex(dbs *yaml.Node) {
	f.index = make(map[string]int, len(dbs.Content)/2)
	for i := 0; i+1 < len(dbs.Content); i += 2 {
		if dbs.Content[i].Kind == yaml.ScalarNode {
			f.index[dbs.Content[i].Value] = i
		}
	}
}

// appendEvent adds {status, at, reason, note, commit} to the status history
// of metadata md.
func appendEvent(md *yaml.Node, c Change) {
	_, h := lookup(md, keyHistory)
	if h == nil || h.Kind != yaml.SequenceNode {
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		setKey(md, keyHistory, n, metadataOrder)
		_, h = lookup(md, keyHistory)
	}
	ev := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setScalar(ev, keyStatus, string(c.To), "!!str", false, eventOrder)
	setScalar(ev, "at", c.At.UTC().Format(time.RFC3339), "!!str", true, eventOrder)
	if c.Reason != "" {
		setScalar(ev, "reason", string(c.Reason), "!!str", false, eventOrder)
	}
	if note := strings.Join(strings.Fields(c.Note), " "); note != "" {
		setScalar(ev, "note", note, "!!str", false, eventOrder)
	}
	if c.Commit != "" {
		setScalar(ev, "commit", c.Commit, "!!str", false, eventOrder)
	}
	h.Style &^= yaml.FlowStyle
	h.Content = append(h.Content, ev)
}

// checkEntryShape refuses to edit an entry whose blocks are not mappings.
func (f *File) checkEntryShape(name string, v *yaml.Node) error {
	var errs []error
	bad := func(n *yaml.Node, path, what string) {
		errs = append(errs, &FieldError{File: f.opts.Filename, Line: n.Line, Path: "databases." + name + path,
			Rule: fmt.Sprintf("must be %s, not a %s; fix it by hand before rdsbot edits this entry", what, kindName(n))})
	}
	if v.Kind != yaml.MappingNode {
		bad(v, "", "a mapping with metadata and configuration")
		return errors.Join(errs...)
	}
	for _, key := range entryOrder {
		if _, n := lookup(v, key); n != nil && !isNull(n) && n.Kind != yaml.MappingNode {
			bad(n, "."+key, "a mapping")
		}
	}
	_, md := lookup(v, keyMetadata)
	if _, h := lookup(md, keyHistory); h != nil && !isNull(h) && h.Kind != yaml.SequenceNode {
		bad(h, ".metadata."+keyHistory, "a list")
	}
	return errors.Join(errs...)
}

// Change is one status transition of an entry, as Kubernetes records a
// condition: the new status, when, why (a lifecycle reason), a note for
// people, and the commit it reflects (the merge commit that was applied).
type Change struct {
	To     Status
	At     time.Time
	Reason lifecycle.Reason
	Note   string
	Commit string
}

// SetStatus moves the entry for database name in environment env to status
// to, appending {status, at, note} to its history; see Apply.
func (f *File) SetStatus(name, env string, to Status, at time.Time, note string) error {
	return f.Apply(name, env, Change{To: to, At: at, Note: note})
}

// Apply moves the entry for database name in environment env to c.To,
// appending the change to its status history. The transition must be legal
// (see CheckTransition); the error otherwise names both statuses and the
// legal next ones. A note is kept on one line.
func (f *File) Apply(name, env string, c Change) error {
	to, at := c.To, c.At
	if at.IsZero() {
		return errors.New("catalog: SetStatus needs the time of the transition")
	}
	e, ok := f.Get(name, env)
	if !ok {
		return &kindError{kind: ErrNotFound, msg: fmt.Sprintf("%s has no entry for database %q in %s", f.opts.Filename, name, env)}
	}
	_, v := f.entryNode(name)
	if err := f.checkEntryShape(name, v); err != nil {
		return err
	}
	if err := CheckTransition(e.Metadata.Status, to); err != nil {
		return fmt.Errorf("%s: database %q in %s: %w", f.opts.Filename, name, env, err)
	}
	md := ensureMapping(v, keyMetadata, entryOrder)
	setScalar(md, keyStatus, string(to), "!!str", false, metadataOrder)
	appendEvent(md, c)
	f.touch(at)
	return nil
}

// MarkDecommissioning moves an active entry to decommissioning (the start
// of a decommission request); see SetStatus.
func (f *File) MarkDecommissioning(name, env string, at time.Time, note string) error {
	return f.SetStatus(name, env, StatusDecommissioning, at, note)
}

// touch maintains the header after a change: owner and managed_by forced to
// platform-team, version and domain filled in when missing, environment and
// rds_instance (per-env), and last_updated set to the day of now (UTC).
func (f *File) touch(now time.Time) {
	r := f.root
	if _, v := lookup(r, "version"); v == nil || isNull(v) {
		setScalar(r, "version", DefaultVersion, "!!str", true, headerOrder)
	}
	if _, v := lookup(r, "domain"); v == nil || isNull(v) {
		setScalar(r, "domain", DefaultDomain, "!!str", false, headerOrder)
	}
	setScalar(r, "owner", PlatformTeam, "!!str", false, headerOrder)
	setScalar(r, "last_updated", now.UTC().Format(time.DateOnly), "!!str", true, headerOrder)
	setScalar(r, "managed_by", PlatformTeam, "!!str", false, headerOrder)
	if f.opts.Layout == LayoutPerEnv {
		setScalar(r, "environment", f.opts.Environment, "!!str", false, headerOrder)
		if f.opts.RDSInstance != "" {
			setScalar(r, "rds_instance", f.opts.RDSInstance, "!!str", false, headerOrder)
		}
	}
	f.dirty = true
	f.out = nil
}
