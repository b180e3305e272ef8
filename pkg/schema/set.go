package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// ServiceClass is the service class of RDS requests in service_class_approvals.yaml.
const ServiceClass = "databases-rds"

// Paths names the schema files inside a repository.
type Paths struct {
	Enums          string
	Request        string
	ServiceClasses string
	// Reserved is the reserved-names file; when it does not exist the
	// documented list (DefaultReservedNames) applies.
	Reserved string
}

// DefaultPaths is the layout of this repository.
var DefaultPaths = Paths{
	Enums:          "schemas/metadata/enums.yaml",
	Request:        "schemas/requests/rds.schema.yaml",
	ServiceClasses: "schemas/routing/service_class_approvals.yaml",
	Reserved:       "schemas/metadata/reserved_names.yaml",
}

// Set is everything validation and routing need.
type Set struct {
	Enums          *Enums
	Request        *RequestSchema
	ServiceClasses *ServiceClasses
	Reserved       *ReservedNames
}

// Load reads and checks the schema files from fsys.
func Load(fsys fs.FS, p Paths) (*Set, error) {
	read := func(name string) ([]byte, error) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		return b, nil
	}
	eb, err := read(p.Enums)
	if err != nil {
		return nil, err
	}
	enums, err := ParseEnums(eb, p.Enums)
	if err != nil {
		return nil, err
	}
	rb, err := read(p.Request)
	if err != nil {
		return nil, err
	}
	req, err := ParseRequestSchema(rb, p.Request, enums)
	if err != nil {
		return nil, err
	}
	sb, err := read(p.ServiceClasses)
	if err != nil {
		return nil, err
	}
	sc, err := ParseServiceClasses(sb, p.ServiceClasses, enums)
	if err != nil {
		return nil, err
	}
	reserved := DefaultReservedNames()
	if p.Reserved != "" {
		b, err := fs.ReadFile(fsys, p.Reserved)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read schema: %w", err)
		default:
			if reserved, err = ParseReservedNames(b, p.Reserved); err != nil {
				return nil, err
			}
		}
	}
	return &Set{Enums: enums, Request: req, ServiceClasses: sc, Reserved: reserved}, nil
}

// LabelNeed is a label a request needs, and the group whose member must add it.
type LabelNeed struct {
	Label  string
	Group  string
	Reason string
}

// Approval is what a request needs before it may merge.
type Approval struct {
	Rule      string // the routing rule that matched, or "service-class:<class>"
	Tier      string
	Reviewers []string // reviewer groups, each needing an approving member
	Labels    []LabelNeed
}

// SelfServe reports whether no reviewer group and no label is needed.
func (a Approval) SelfServe() bool { return len(a.Reviewers) == 0 && len(a.Labels) == 0 }

// Approvals routes a request (its field values as text) to the reviewers and
// labels it needs: the first matching approval_routing rule, or the
// databases-rds service class when none matches, plus every matching
// label requirement.
func (s *Set) Approvals(fields map[string]string) Approval {
	var a Approval
	matched := false
	for _, r := range s.Request.Routing {
		if r.When.Matches(fields) {
			a = Approval{Rule: r.Name, Tier: r.Tier, Reviewers: slices.Clone(r.Reviewers)}
			matched = true
			break
		}
	}
	if !matched {
		t := s.ServiceClasses.For(ServiceClass)
		a = Approval{Rule: "service-class:" + ServiceClass, Tier: t.Tier, Reviewers: slices.Clone(t.Reviewers)}
	}
	for _, lr := range s.Request.LabelRequirements {
		if lr.When.Matches(fields) {
			a.Labels = append(a.Labels, LabelNeed{Label: lr.Label, Group: lr.Group, Reason: lr.Reason})
		}
	}
	return a
}

// DecommissionApproval is what removing a database needs.
func (s *Set) DecommissionApproval() Approval {
	d := s.Request.Decommission
	a := Approval{Rule: "decommission", Tier: d.Tier, Reviewers: slices.Clone(d.Reviewers)}
	if d.Label != "" {
		a.Labels = []LabelNeed{{Label: d.Label, Group: d.Group, Reason: "Removing a database is break-glass"}}
	}
	return a
}
