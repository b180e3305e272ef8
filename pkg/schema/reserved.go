package schema

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:embed defaults/reserved_names.yaml
var defaultReservedYAML []byte

// ReservedNames are the database and role names no request may take:
// PostgreSQL's and Amazon RDS's own (schemas/metadata/reserved_names.yaml)
// and, per environment, the instance's master username and admin database.
type ReservedNames struct {
	File      string // "" when the documented defaults were used
	databases map[string]string
	roles     map[string]string
	prefixes  [][2]string // prefix, reason; longest first

	mu       sync.Mutex
	instance map[string]map[string]map[string]string
	lookup   func(env string) ([]InstanceName, error)
	looked   map[string]bool
}

// InstanceName is a name one environment's instance holds itself: its
// master username (ReservedRoles) or its admin database (ReservedDatabases).
type InstanceName struct {
	Kind   string
	Name   string
	Reason string
}

// LookupInstances sets how an environment's own instance names are found;
// each environment is looked up once, the first time it is checked, so a
// caller reads only the environments it plans. A lookup that fails is tried
// again at the next check.
func (r *ReservedNames) LookupInstances(fn func(env string) ([]InstanceName, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookup, r.looked = fn, map[string]bool{}
}

const shapeReserved = "a mapping {databases: {name: reason}, roles: {name: reason}, prefixes: {prefix: reason}}"

// ParseReservedNames reads a reserved-names file.
func ParseReservedNames(data []byte, filename string) (*ReservedNames, error) {
	top, err := parseDoc(data, filename, shapeReserved)
	if err != nil {
		return nil, err
	}
	p := &problems{file: filename}
	p.keysOnly(top, "top level", []string{"version", "description", "databases", "roles", "prefixes"})
	r := &ReservedNames{File: filename, databases: map[string]string{}, roles: map[string]string{}}
	read := func(key string, into func(name, reason string)) {
		m := p.mapping(get(top, key), key, "a mapping of name to the reason it is reserved")
		for _, kv := range pairs(m) {
			reason := p.str(kv.v, key+"."+kv.key)
			name := strings.ToLower(kv.key)
			if name == "" || reason == "" {
				p.at(kv.k.Line, "%s: %q needs a reason (name: why it is reserved)", key, kv.key)
				continue
			}
			into(name, reason)
		}
	}
	read("databases", func(n, why string) { r.databases[n] = why })
	read("roles", func(n, why string) { r.roles[n] = why })
	read("prefixes", func(n, why string) { r.prefixes = append(r.prefixes, [2]string{n, why}) })
	sort.SliceStable(r.prefixes, func(i, j int) bool { return len(r.prefixes[i][0]) > len(r.prefixes[j][0]) })
	if err := p.err(); err != nil {
		return nil, err
	}
	return r, nil
}

// DefaultReservedNames is the documented list, used when a repository has
// no reserved-names file.
func DefaultReservedNames() *ReservedNames {
	r, err := ParseReservedNames(defaultReservedYAML, "reserved_names.yaml")
	if err != nil {
		panic(fmt.Sprintf("schema: embedded reserved names: %v", err)) // tested
	}
	r.File = ""
	return r
}

// DefaultReservedFile returns the documented list's bytes.
func DefaultReservedFile() []byte { return slices.Clone(defaultReservedYAML) }

// AddInstance reserves a name in one environment only, such as the
// instance's master username (kind ReservedRoles) or its admin database
// (ReservedDatabases).
func (r *ReservedNames) AddInstance(env, kind, name, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addInstance(env, kind, name, reason)
}

func (r *ReservedNames) addInstance(env, kind, name, reason string) {
	if r.instance == nil {
		r.instance = map[string]map[string]map[string]string{}
	}
	if r.instance[env] == nil {
		r.instance[env] = map[string]map[string]string{}
	}
	if r.instance[env][kind] == nil {
		r.instance[env][kind] = map[string]string{}
	}
	r.instance[env][kind][strings.ToLower(name)] = reason
}

// Check says why name may not be used as a kind (ReservedDatabases or
// ReservedRoles) in env; ok is false when it may.
func (r *ReservedNames) Check(kind, env, name string) (reason string, reserved bool) {
	if r == nil || name == "" {
		return "", false
	}
	n := strings.ToLower(name)
	r.mu.Lock()
	if r.lookup != nil && !r.looked[env] {
		if names, err := r.lookup(env); err == nil {
			r.looked[env] = true
			for _, in := range names {
				r.addInstance(env, in.Kind, in.Name, in.Reason)
			}
		}
	}
	why, ok := r.instance[env][kind][n]
	r.mu.Unlock()
	if ok {
		return why, true
	}
	list := r.databases
	if kind == ReservedRoles {
		list = r.roles
	}
	if why, ok := list[n]; ok {
		return why, true
	}
	for _, pr := range r.prefixes {
		if strings.HasPrefix(n, pr[0]) {
			return pr[1], true
		}
	}
	return "", false
}
