package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/rdsbot/rdsbot/pkg/lifecycle"

	"gopkg.in/yaml.v3"
)

var commitID = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// Validate checks the catalog against the rules rdsbot writes by and
// returns every problem at once (errors.Join of *FieldError), each with its
// line and field. Entries written before rdsbot (no request_id, no history)
// are accepted as long as the fields the original wrote are present.
func (f *File) Validate() error {
	v := validator{file: f.opts.Filename}
	r := f.root
	if _, n := lookup(r, "version"); n == nil || scalarValue(n) == "" {
		v.add(orRoot(n, r), "version", "is required (e.g. \"1.0\")")
	}
	if k, n := lookup(r, "last_updated"); k != nil {
		v.date(n, "last_updated")
	}
	if k, _ := lookup(r, keyDatabases); k == nil {
		v.add(r, keyDatabases, "is required (a mapping of database name to entry; `databases: {}` when empty)")
	}
	if dbs := f.databases(); dbs != nil {
		for i := 0; i+1 < len(dbs.Content); i += 2 {
			f.validateEntry(&v, dbs.Content[i], dbs.Content[i+1])
		}
	}
	slices.SortStableFunc(v.errs, func(a, b error) int {
		return a.(*FieldError).Line - b.(*FieldError).Line
	})
	return errors.Join(v.errs...)
}

type validator struct {
	file string
	errs []error
}

func (v *validator) add(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	v.errs = append(v.errs, &FieldError{File: v.file, Line: line, Path: path, Rule: fmt.Sprintf(format, args...)})
}

// scalar checks that n is a non-empty single value (when required) and
// returns its text.
func (v *validator) scalar(parent, n *yaml.Node, path string, required bool) string {
	switch {
	case n == nil || isNull(n):
		if required {
			v.add(orRoot(n, parent), path, "is required")
		}
		return ""
	case n.Kind != yaml.ScalarNode:
		v.add(n, path, "must be a single value, not a %s", kindName(n))
		return ""
	case n.Value == "" && required:
		v.add(n, path, "is required and must not be empty")
	}
	return n.Value
}

func (v *validator) date(n *yaml.Node, path string) {
	s := v.scalar(n, n, path, true)
	if s == "" {
		return
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil || !datePattern.MatchString(s) {
		v.add(n, path, "%q must be a date written YYYY-MM-DD", s)
	}
}

func orRoot(n, parent *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return parent
}

func (f *File) validateEntry(v *validator, k, n *yaml.Node) {
	name := k.Value
	p := "databases." + name
	if !namePattern.MatchString(name) {
		v.add(k, p, "the database name must start with a lower-case letter and hold at most 63 lower-case letters, digits, _ or -")
	}
	if n.Kind != yaml.MappingNode {
		v.add(orRoot(n, k), p, "must be a mapping with metadata and configuration, not a %s", kindName(n))
		return
	}
	mdKey, md := lookup(n, keyMetadata)
	cfKey, cf := lookup(n, keyConfiguration)
	for i, m := range []*yaml.Node{md, cf} {
		switch {
		case isNull(m):
			v.add(orRoot(m, k), p+"."+entryOrder[i], "is required (a mapping)")
		case m.Kind != yaml.MappingNode:
			v.add(m, p+"."+entryOrder[i], "must be a mapping, not a %s", kindName(m))
		}
	}
	if md != nil && md.Kind == yaml.MappingNode {
		f.validateMetadata(v, name, mdKey, md)
	}
	if cf != nil && cf.Kind == yaml.MappingNode {
		for _, key := range configurationOrder {
			_, x := lookup(cf, key)
			v.scalar(cfKey, x, p+".configuration."+key, true)
		}
	}
}

func (f *File) validateMetadata(v *validator, name string, mdKey, md *yaml.Node) {
	p := "databases." + name + ".metadata."
	get := func(key string, required bool) (*yaml.Node, string) {
		_, x := lookup(md, key)
		return x, v.scalar(mdKey, x, p+key, required)
	}
	for _, key := range []string{"owner", "requested_by", "domain", "risk"} {
		get(key, true)
	}
	get("id", true)
	if x, rid := get("request_id", false); rid != "" && !requestIDPattern.MatchString(rid) {
		v.add(x, p+"request_id", "%q must look like RDS-0042 (RDS- and at least four digits)", rid)
	}
	if x, env := get("environment", true); env != "" && f.opts.Layout == LayoutPerEnv && env != f.opts.Environment {
		v.add(x, p+"environment", "%q does not belong in the catalog of %q", env, f.opts.Environment)
	}
	stNode, st := get(keyStatus, true)
	if st != "" && !Status(st).Known() {
		v.add(stNode, p+keyStatus, "%q is not a status of rds.request_status (%s)", st, lifecycle.Join(lifecycle.Persisted(), ", "))
	}
	if k, x := lookup(md, "created_date"); k != nil {
		v.date(x, p+"created_date")
	} else {
		v.add(mdKey, p+"created_date", "is required")
	}
	if x, pr := get("pr", false); pr != "" {
		if n, err := strconv.Atoi(pr); err != nil || n < 1 || x.Tag != "!!int" {
			v.add(x, p+"pr", "%q must be a pull request number", pr)
		}
	}
	get("pr_url", false)

	_, h := lookup(md, keyHistory)
	if h == nil || isNull(h) {
		return
	}
	if h.Kind != yaml.SequenceNode {
		v.add(h, p+keyHistory, "must be a list of {status, at, reason, note, commit}, not a %s", kindName(h))
		return
	}
	var prev Status
	for i, ev := range h.Content {
		ep := fmt.Sprintf("%s%s[%d]", p, keyHistory, i)
		if ev.Kind != yaml.MappingNode {
			v.add(ev, ep, "must be a mapping {status, at, reason, note, commit}, not a %s", kindName(ev))
			prev = ""
			continue
		}
		_, sn := lookup(ev, keyStatus)
		// missing fields of an event are reported at the event's first line
		s := Status(v.scalar(ev, sn, ep+".status", true))
		switch {
		case s == "":
		case !s.Known():
			v.add(sn, ep+".status", "%q is not a status of rds.request_status (%s)", s, lifecycle.Join(lifecycle.Persisted(), ", "))
		case prev != "" && prev.Known():
			if err := CheckTransition(prev, s); err != nil {
				v.add(sn, ep+".status", "%v", err)
			}
		}
		prev = s
		_, at := lookup(ev, "at")
		if t := v.scalar(ev, at, ep+".at", true); t != "" {
			if _, err := time.Parse(time.RFC3339, t); err != nil {
				v.add(at, ep+".at", "%q must be an RFC 3339 time such as 2026-01-15T10:04:05Z", t)
			}
		}
		_, note := lookup(ev, "note")
		v.scalar(ev, note, ep+".note", false)
		_, rn := lookup(ev, "reason")
		if r := v.scalar(ev, rn, ep+".reason", false); r != "" && s.Known() && lifecycle.Reason(r).State() != "" && lifecycle.Reason(r).State() != s {
			v.add(rn, ep+".reason", "%q is a reason of status %s, not of %s", r, lifecycle.Reason(r).State(), s)
		}
		_, cn := lookup(ev, "commit")
		if c := v.scalar(ev, cn, ep+".commit", false); c != "" && !commitID.MatchString(c) {
			v.add(cn, ep+".commit", "%q must be a commit id (7 to 40 hexadecimal digits)", c)
		}
	}
	if len(h.Content) > 0 && prev != "" && st != "" && prev != Status(st) {
		v.add(stNode, p+keyStatus, "%q differs from the last status of status_history (%q)", st, prev)
	}
}
