package schema

import (
	"fmt"
	"strings"
)

// Describe renders the loaded model as text, one fact per line, in a fixed
// order: what rdsbot will enforce, whichever format the file was written in.
// Two schema files that load to the same model describe identically; the
// format, the file and the documented defaults used are left out (see
// Notes).
func (s *RequestSchema) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema %s version %q\n", s.ID, s.Version)
	fmt.Fprintf(&b, "title %q\nworkflow %q\nissue label %q\n", s.Title, s.Workflow, s.IssueLabel)
	b.WriteString("fields:\n")
	for _, name := range s.FieldNames() {
		f := s.Fields[name]
		var attrs []string
		attrs = append(attrs, f.Type)
		flag := func(on bool, s string) {
			if on {
				attrs = append(attrs, s)
			}
		}
		flag(f.Required, "required")
		flag(f.Derived, "derived")
		flag(f.NotInForm, "not in form")
		if f.Pattern != nil {
			attrs = append(attrs, fmt.Sprintf("pattern %s (%s)", f.Pattern, f.Rule))
		}
		if len(f.Enum) > 0 {
			attrs = append(attrs, "enum ["+strings.Join(f.Enum, ", ")+"]")
		}
		if f.EnumFrom != "" {
			attrs = append(attrs, "from "+f.EnumFrom)
		}
		if f.Minimum != nil {
			attrs = append(attrs, fmt.Sprintf("min %d", *f.Minimum))
		}
		if f.Maximum != nil {
			attrs = append(attrs, fmt.Sprintf("max %d", *f.Maximum))
		}
		if f.Default != nil {
			attrs = append(attrs, "default "+f.Default.Text(f.Type))
		}
		if f.Input != "" {
			attrs = append(attrs, "input "+f.Input)
		}
		if f.Label != "" {
			attrs = append(attrs, fmt.Sprintf("label %q", f.Label))
		}
		if f.Reserved != "" {
			attrs = append(attrs, "reserved "+f.Reserved)
		}
		fmt.Fprintf(&b, "  %s: %s\n", name, strings.Join(attrs, "; "))
	}
	b.WriteString("conditional defaults:\n")
	for _, d := range s.Defaults {
		var set []string
		for _, fv := range d.Set {
			set = append(set, fv.Field+"="+fv.Value.Text(s.Fields[fv.Field].Type))
		}
		fmt.Fprintf(&b, "  %s: when %s set %s\n", d.Name, d.When, strings.Join(set, ", "))
	}
	b.WriteString("conditional rules:\n")
	for _, r := range s.Rules {
		sev := SeverityError
		if !r.IsError() {
			sev = SeverityWarning
		}
		fmt.Fprintf(&b, "  %s [%s] %s: %q\n", r.Name, sev, r.Describe(), r.Message)
	}
	b.WriteString("sizes:\n")
	for _, sc := range s.Sizes {
		fmt.Fprintf(&b, "  %s: %s, %d connections, %q\n", sc.Tier, sc.InstanceClass, sc.MaxConnections, sc.Description)
	}
	b.WriteString("approval routing (first match):\n")
	for _, r := range s.Routing {
		fmt.Fprintf(&b, "  %s: when %s -> %s [%s]\n", r.Name, r.When, r.Tier, strings.Join(r.Reviewers, ", "))
	}
	b.WriteString("label requirements:\n")
	for _, l := range s.LabelRequirements {
		fmt.Fprintf(&b, "  %s: when %s -> %s by %s (%s)\n", l.Name, l.When, l.Label, l.Group, l.Reason)
	}
	d := s.Decommission
	fmt.Fprintf(&b, "decommission: %s [%s], label %s by %s\n", d.Tier, strings.Join(d.Reviewers, ", "), d.Label, d.Group)
	return b.String()
}
