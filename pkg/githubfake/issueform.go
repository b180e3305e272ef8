package githubfake

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// FormField is one answered field of an issue form, as GitHub renders it
// into the issue body.
type FormField struct {
	Label string
	Value string // "" renders as "_No response_"
}

// IssueFormBody renders answers like GitHub renders a submitted issue form:
// "### <label>\n\n<value>" sections separated by blank lines.
func IssueFormBody(fields []FormField) string {
	var parts []string
	for _, fl := range fields {
		v := strings.TrimSpace(fl.Value)
		if v == "" {
			v = "_No response_"
		}
		parts = append(parts, "### "+fl.Label+"\n\n"+v)
	}
	return strings.Join(parts, "\n\n")
}

// issueTemplate is the part of an issue form template the fake renders.
type issueTemplate struct {
	Title  string   `yaml:"title"`
	Labels []string `yaml:"labels"`
	Body   []struct {
		Type       string `yaml:"type"`
		ID         string `yaml:"id"`
		Attributes struct {
			Label   string    `yaml:"label"`
			Options yaml.Node `yaml:"options"`
			Default *int      `yaml:"default"`
		} `yaml:"attributes"`
		Validations struct {
			Required bool `yaml:"required"`
		} `yaml:"validations"`
	} `yaml:"body"`
}

// renderIssueForm fills an issue form template with answers keyed by field
// id (or label). Dropdowns take an option (several, comma-separated, for
// multiple); checkboxes take the labels to tick, comma-separated. It returns
// the title prefix, labels and rendered body, or an error naming every
// required field left empty and every answer that is not an option.
func renderIssueForm(data []byte, answers map[string]string) (string, []string, string, error) {
	var t issueTemplate
	if err := yaml.Unmarshal(data, &t); err != nil {
		return "", nil, "", fmt.Errorf("issue form: %w", err)
	}
	var fields []FormField
	var problems []string
	used := map[string]bool{}
	for _, item := range t.Body {
		if item.Type == "markdown" {
			continue
		}
		label := item.Attributes.Label
		v, ok := answers[item.ID]
		key := item.ID
		if !ok {
			v, ok = answers[label]
			key = label
		}
		if ok {
			used[key] = true
		}
		var options []string
		for _, o := range item.Attributes.Options.Content {
			if o.Kind == yaml.MappingNode {
				var cb struct {
					Label string `yaml:"label"`
				}
				_ = o.Decode(&cb)
				options = append(options, cb.Label)
				continue
			}
			options = append(options, o.Value)
		}
		switch item.Type {
		case "dropdown":
			if !ok && item.Attributes.Default != nil && *item.Attributes.Default < len(options) {
				v = options[*item.Attributes.Default]
			}
			for _, choice := range splitList(v) {
				if !containsFold(options, choice) {
					problems = append(problems, fmt.Sprintf("%s: %q is not one of %s", label, choice, strings.Join(options, ", ")))
				}
			}
		case "checkboxes":
			ticked := splitList(v)
			var lines []string
			for _, o := range options {
				mark := " "
				if containsFold(ticked, o) {
					mark = "X"
				}
				lines = append(lines, "- ["+mark+"] "+o)
			}
			v = strings.Join(lines, "\n")
		}
		if item.Validations.Required && strings.TrimSpace(v) == "" {
			problems = append(problems, label+": required")
		}
		fields = append(fields, FormField{Label: label, Value: v})
	}
	for k := range answers {
		if !used[k] {
			problems = append(problems, k+": not a field of this form")
		}
	}
	if len(problems) > 0 {
		return "", nil, "", fmt.Errorf("issue form: %s", strings.Join(problems, "; "))
	}
	return t.Title, t.Labels, IssueFormBody(fields), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
