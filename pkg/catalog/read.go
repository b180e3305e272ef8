package catalog

import (
	"strconv"
	"time"

	"github.com/rdsbot/rdsbot/pkg/lifecycle"
	"gopkg.in/yaml.v3"
)

// Reading is lenient: a field that is missing or not a scalar reads as its
// zero value. Validate reports such fields.

// Header returns the file's top-level fields.
func (f *File) Header() Header {
	get := func(k string) string {
		_, v := lookup(f.root, k)
		return scalarValue(v)
	}
	return Header{
		Version:     get("version"),
		Domain:      get("domain"),
		Owner:       get("owner"),
		ManagedBy:   get("managed_by"),
		LastUpdated: get("last_updated"),
		Environment: get("environment"),
		RDSInstance: get("rds_instance"),
	}
}

// databases returns the databases mapping, or nil when the file has none
// (missing or null).
func (f *File) databases() *yaml.Node {
	_, dbs := lookup(f.root, keyDatabases)
	if dbs == nil || dbs.Kind != yaml.MappingNode {
		return nil
	}
	return dbs
}

// Entries returns every entry in file order.
func (f *File) Entries() []Entry {
	dbs := f.databases()
	if dbs == nil {
		return nil
	}
	out := make([]Entry, 0, len(dbs.Content)/2)
	for i := 0; i+1 < len(dbs.Content); i += 2 {
		if dbs.Content[i].Kind != yaml.ScalarNode {
			continue
		}
		e := decodeEntry(dbs.Content[i].Value, dbs.Content[i+1])
		e.Line = dbs.Content[i].Line
		out = append(out, e)
	}
	return out
}

// Get returns the entry for database name in environment env. In the per-env
// layout env must be the file's environment; in the single-file layout the
// entry's metadata.environment must be env.
func (f *File) Get(name, env string) (Entry, bool) {
	_, v := f.entryNode(name)
	if v == nil {
		return Entry{}, false
	}
	e := decodeEntry(name, v)
	if f.opts.Layout == LayoutPerEnv && env != f.opts.Environment {
		return Entry{}, false
	}
	if f.opts.Layout == LayoutSingleFile && e.Metadata.Environment != env {
		return Entry{}, false
	}
	return e, true
}

// entryNode returns the key and value nodes of the entry named name.
func (f *File) entryNode(name string) (k, v *yaml.Node) {
	i, ok := f.index[name]
	if !ok {
		return nil, nil
	}
	dbs := f.databases()
	return dbs.Content[i], dbs.Content[i+1]
}

func decodeEntry(name string, v *yaml.Node) Entry {
	_, md := lookup(v, keyMetadata)
	_, cf := lookup(v, keyConfiguration)
	get := func(m *yaml.Node, k string) string {
		_, n := lookup(m, k)
		return scalarValue(n)
	}
	e := Entry{
		Name: name,
		Metadata: Metadata{
			ID:          get(md, "id"),
			RequestID:   get(md, "request_id"),
			Owner:       get(md, "owner"),
			RequestedBy: get(md, "requested_by"),
			Domain:      get(md, "domain"),
			Risk:        get(md, "risk"),
			Environment: get(md, "environment"),
			Status:      Status(get(md, keyStatus)),
			CreatedDate: get(md, "created_date"),
			PRURL:       get(md, "pr_url"),
		},
		Configuration: Configuration{
			Username:      get(cf, "username"),
			SizeTier:      get(cf, "size_tier"),
			InstanceClass: get(cf, "instance_class"),
			SecretPath:    get(cf, "secret_path"),
		},
	}
	if n, err := strconv.Atoi(get(md, "pr")); err == nil {
		e.Metadata.PRNumber = n
	}
	if _, h := lookup(md, keyHistory); h != nil && h.Kind == yaml.SequenceNode {
		for _, ev := range h.Content {
			at, _ := time.Parse(time.RFC3339, get(ev, "at"))
			e.Metadata.History = append(e.Metadata.History, StatusEvent{
				Status: Status(get(ev, keyStatus)),
				At:     at.UTC(),
				Reason: lifecycle.Reason(get(ev, "reason")),
				Note:   get(ev, "note"),
				Commit: get(ev, "commit"),
			})
		}
	}
	return e
}
