package tfvars

import (
	"errors"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Entry is one entry of a map-valued attribute.
type Entry struct {
	Key   string
	Value cty.Value // as written: objects are cty object values
	Line  int       // line of the key
}

// Entries returns the entries of the map-valued attribute at mapPath in
// source order. A nested map that does not exist (rds_config without
// application_databases) has no entries; a missing top-level attribute is an
// ErrNotFound error. Keys and values must be literals, as Terraform requires
// in tfvars files.
func Entries(src []byte, filename string, mapPath Path) ([]Entry, error) {
	var err error
	if mapPath, err = checkPath(filename, mapPath); err != nil {
		return nil, err
	}
	d, err := parseDocument(src, filename)
	if err != nil {
		return nil, err
	}
	parent, idx, err := d.locate(mapPath)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		if len(mapPath) == 1 {
			return nil, d.notFound(mapPath)
		}
		return nil, nil
	}
	m, err := d.mapAt(parent, idx, mapPath)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(m.items))
	for i := range m.items {
		it := &m.items[i]
		if !it.keyOK {
			return nil, newError(filename, it.line, mapPath, ErrInvalidValue,
				"%s: the key is not a name or a literal string", mapPath)
		}
		v, diags := it.value.Value(nil)
		if diags.HasErrors() {
			return nil, newError(filename, it.line, mapPath, ErrInvalidValue,
				"%s[%q]: %s", mapPath, it.key, diagText(diags))
		}
		out = append(out, Entry{Key: it.key, Value: v, Line: it.line})
	}
	return out, nil
}

// Lookup evaluates the attribute at path, e.g. {"rds_config", "enabled"} or
// {"cluster_lifecycle"}. found is false when the attribute (or an object on
// the way to it) is absent; an attribute on the way that is not an object
// constructor is an ErrNotMap error.
func Lookup(src []byte, filename string, path Path) (v cty.Value, found bool, err error) {
	if path, err = checkPath(filename, path); err != nil {
		return cty.NilVal, false, err
	}
	d, err := parseDocument(src, filename)
	if err != nil {
		return cty.NilVal, false, err
	}
	parent, idx, err := d.locate(path)
	if errors.Is(err, ErrNotFound) {
		return cty.NilVal, false, nil
	}
	if err != nil {
		return cty.NilVal, false, err
	}
	if idx < 0 {
		return cty.NilVal, false, nil
	}
	it := &parent.items[idx]
	v, diags := it.value.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, false, newError(filename, it.line, path, ErrInvalidValue, "%s: %s", path, diagText(diags))
	}
	return v, true, nil
}

func diagText(diags hcl.Diagnostics) string {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}
