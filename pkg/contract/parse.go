package contract

import (
	"bufio"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/internal/yamlstrict"
	"github.com/rdsbot/rdsbot/pkg/schema"
	"gopkg.in/yaml.v3"
)

// FromInputs reads the inputs of a workflow_dispatch (the Backstage
// create-rds-database path) or the client_payload of a repository_dispatch.
// Inputs are matched by each field's `input` name (database_name) or, for a
// repository_dispatch, by the field name itself (databaseName). Values may be
// strings (as GitHub sends dispatch inputs), booleans or numbers. An unknown
// input is a problem, so a misspelt name never silently drops a value; so is
// one field given under two names (database_name and databaseName).
func FromInputs(s *schema.RequestSchema, src Source, inputs map[string]any) (Raw, Problems) {
	raw := newRaw(src)
	var probs Problems
	byInput := map[string]*schema.Field{}
	for _, name := range s.FieldNames() {
		f := s.Fields[name]
		if f.Input != "" {
			byInput[f.Input] = f
		}
		if src == SourceRepositoryDispatch && !f.Derived {
			byInput[f.Name] = f
		}
	}
	seen := map[string]string{}
	for _, key := range sortedKeys(inputs) {
		f, ok := byInput[key]
		origin := "input " + strconv.Quote(key)
		if !ok {
			probs = append(probs, Problem{Field: key, Name: key, Message: fmt.Sprintf("is not an input of this request; known inputs: %s", strings.Join(inputNames(s, src), ", ")), Severity: Error, Origin: origin})
			continue
		}
		if other, dup := seen[f.Name]; dup {
			probs = append(probs, Problem{Field: f.Name, Name: key, Message: fmt.Sprintf("is the same field as %s, which is given too; send one of them", other), Severity: Error, Origin: origin})
			delete(raw.Values, f.Name)
			continue
		}
		seen[f.Name] = key
		v := RawValue{Origin: origin, Name: key}
		switch x := inputs[key].(type) {
		case nil:
			continue
		case string:
			v.Text, v.Kind = strings.TrimSpace(x), KindText
		case bool:
			v.Text, v.Kind = strconv.FormatBool(x), KindBool
		case json.Number:
			n, _ := number(x)
			v.Text, v.Kind = n.Text, n.Kind
		case float64:
			v.Text, v.Kind = strconv.FormatFloat(x, 'f', -1, 64), KindFloat
			if x == float64(int64(x)) {
				v.Text, v.Kind = strconv.FormatInt(int64(x), 10), KindInt
			}
		case int:
			v.Text, v.Kind = strconv.Itoa(x), KindInt
		case []any:
			v.Text, v.Kind = fmt.Sprint(x), KindList
		case map[string]any:
			v.Text, v.Kind = fmt.Sprint(x), KindMap
		default:
			v.Text, v.Kind = fmt.Sprint(x), KindOther
		}
		raw.Set(f.Name, v)
	}
	return raw, probs
}

func inputNames(s *schema.RequestSchema, src Source) []string {
	var out []string
	if src == SourceRepositoryDispatch {
		for _, name := range s.FieldNames() {
			if !s.Fields[name].Derived {
				out = append(out, name)
			}
		}
		return out
	}
	for _, f := range s.InputFields() {
		out = append(out, f.Input)
	}
	return out
}

// NoResponse is what GitHub writes for an issue-form field left empty.
const NoResponse = "_No response_"

// FromIssueForm reads the body GitHub renders from an issue form: a
// `### <label>` heading per field, followed by the answer, `_No response_`
// when it was left empty. Headings are matched to fields by label (case and
// surrounding space ignored). Text before the first heading is free (rdsbot
// writes where a dispatched request came from there); a heading that names
// no question of the form, or a question answered twice, is a problem with
// its line.
func FromIssueForm(s *schema.RequestSchema, body string) (Raw, Problems) {
	raw := newRaw(SourceIssue)
	var probs Problems
	byLabel := map[string]*schema.Field{}
	var labels []string
	for _, f := range s.FormFields() {
		byLabel[normLabel(f.Label)] = f
		labels = append(labels, strconv.Quote(f.Label))
	}
	type section struct {
		label string
		line  int
		lines []string
	}
	var sections []*section
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(body, "\r\n", "\n")))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "### "); ok {
			sections = append(sections, &section{label: strings.TrimSpace(h), line: n})
			continue
		}
		if len(sections) > 0 {
			cur := sections[len(sections)-1]
			cur.lines = append(cur.lines, line)
		}
	}
	seen := map[string]int{}
	for _, sec := range sections {
		origin := fmt.Sprintf("section %q (line %d)", sec.label, sec.line)
		f, ok := byLabel[normLabel(sec.label)]
		if !ok {
			probs = append(probs, Problem{Name: sec.label, Message: fmt.Sprintf("is not a question of this form (line %d); the questions are %s", sec.line, strings.Join(labels, ", ")), Severity: Error, Origin: origin})
			continue
		}
		if first, dup := seen[f.Name]; dup {
			probs = append(probs, Problem{Field: f.Name, Name: f.Label, Label: f.Label, Message: fmt.Sprintf("is answered twice (lines %d and %d)", first, sec.line), Severity: Error, Origin: origin})
			continue
		}
		seen[f.Name] = sec.line
		answer := strings.TrimSpace(strings.Join(sec.lines, "\n"))
		if answer == NoResponse {
			answer = ""
		}
		raw.Set(f.Name, RawValue{Text: answer, Kind: KindText, Origin: origin, Name: f.Label})
	}
	return raw, probs
}

func normLabel(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// contractTopLevel are the RDS_REQUEST_V1 keys read from the top level of a
// request file (falling back to the same keys under metadata).
var contractTopLevel = []string{"id", "service", "environment", "owner", "requester"}

// contractMetadata are the keys a contract's metadata block may hold besides
// the top-level fallbacks.
var contractMetadata = []string{"title", "description", "created"}

// FromYAML reads an RDS_REQUEST_V1 file: top-level scalars (id, service,
// environment, owner, requester, with metadata.<key> as a fallback), status,
// a metadata block (title, description, created) and the remaining fields
// under spec. Values keep their YAML type: a quoted "false" is text, not a
// boolean. Unknown keys, keys given twice, anchors, aliases, tags and a
// second document are problems with their line; a file that is not YAML at
// all is reported alone (Raw.Unreadable).
func FromYAML(s *schema.RequestSchema, data []byte, filename string) (Raw, Problems) {
	raw := newRaw(SourceFile)
	var probs Problems
	top, issues, err := yamlstrict.Parse(data, yamlstrict.Options{})
	if err != nil {
		se := err.(*yamlstrict.SyntaxError)
		where := filename
		if se.Line > 0 {
			where = fmt.Sprintf("%s:%d", filename, se.Line)
		}
		raw.Unreadable = &Problem{Message: fmt.Sprintf("%s is not valid YAML: %s", filename, se.Message), Origin: where, Severity: Error}
		return raw, nil
	}
	for _, is := range issues {
		probs = append(probs, Problem{Message: is.Message, Origin: fmt.Sprintf("%s:%d", filename, is.Line), Severity: Error})
	}
	if top == nil || top.Kind != yaml.MappingNode {
		raw.Unreadable = &Problem{Message: filename + " must be a mapping (id, environment, owner, requester, metadata, spec)", Origin: filename, Severity: Error}
		return raw, nil
	}
	at := func(n *yaml.Node, path string) string { return fmt.Sprintf("%s:%d %s", filename, n.Line, path) }
	var spec, meta *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		switch {
		case k == "spec":
			spec = v
		case k == "metadata":
			meta = v
		case k == "status":
			raw.Status = scalarText(v)
		case contains(contractTopLevel, k):
			setYAML(raw, k, k, v, at(v, k))
		case s.Fields[k] != nil:
			probs = append(probs, Problem{Field: k, Name: k, Message: "belongs under spec:", Severity: Error, Origin: at(v, k)})
		default:
			probs = append(probs, Problem{Field: k, Name: k, Message: "is not a key of an " + s.ID + " file (id, service, environment, owner, requester, status, metadata, spec)" + suggest(s, k), Severity: Error, Origin: at(v, k)})
		}
	}
	if meta != nil {
		if meta.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Field: "metadata", Name: "metadata", Message: "must be a mapping", Severity: Error, Origin: at(meta, "metadata")})
		} else {
			for i := 0; i+1 < len(meta.Content); i += 2 {
				k, v := meta.Content[i].Value, meta.Content[i+1]
				switch {
				case k == "title":
					raw.Title = scalarText(v)
				case k == "description":
					raw.Description = scalarText(v)
				case k == "created":
					raw.Created = scalarText(v)
				case contains(contractTopLevel, k):
					if _, set := raw.Values[k]; !set {
						setYAML(raw, k, "metadata."+k, v, at(v, "metadata."+k))
					}
				default:
					probs = append(probs, Problem{Name: "metadata." + k, Message: "is not a metadata key (" + strings.Join(append(slicesClone(contractMetadata), contractTopLevel...), ", ") + ")", Severity: Error, Origin: at(v, "metadata."+k)})
				}
			}
		}
	}
	if spec != nil {
		if spec.Kind != yaml.MappingNode {
			probs = append(probs, Problem{Field: "spec", Name: "spec", Message: "must be a mapping of request fields", Severity: Error, Origin: at(spec, "spec")})
		} else {
			for i := 0; i+1 < len(spec.Content); i += 2 {
				k, v := spec.Content[i].Value, spec.Content[i+1]
				f := s.Fields[k]
				switch {
				case f == nil:
					probs = append(probs, Problem{Field: "spec." + k, Name: "spec." + k, Message: "is not a field of " + s.ID + suggest(s, k), Severity: Error, Origin: at(v, "spec."+k)})
				case contains(contractTopLevel, k):
					probs = append(probs, Problem{Field: k, Name: "spec." + k, Message: "belongs at the top level, not under spec:", Severity: Error, Origin: at(v, "spec."+k)})
				default:
					setYAML(raw, k, "spec."+k, v, at(v, "spec."+k))
				}
			}
		}
	}
	return raw, probs
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func scalarText(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func setYAML(raw Raw, field, name string, n *yaml.Node, origin string) {
	v := RawValue{Text: n.Value, Origin: origin, Name: name}
	switch {
	case n.Kind == yaml.SequenceNode:
		v.Kind, v.Text = KindList, "a list"
	case n.Kind == yaml.MappingNode:
		v.Kind, v.Text = KindMap, "a mapping"
	case n.Kind != yaml.ScalarNode:
		v.Kind = KindOther
	case n.Tag == "!!null":
		return
	case n.Tag == "!!int":
		v.Kind = KindInt
	case n.Tag == "!!float":
		v.Kind = KindFloat
	case n.Tag == "!!bool":
		v.Kind = KindBool
	case n.Tag == "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		v.Kind = KindString
	case n.Tag == "!!str":
		v.Kind = KindText // plain text such as `small` or `yes`
	default:
		v.Kind = KindOther
	}
	raw.Values[field] = v
}

// FromFlags reads command-line values keyed by field name; they are text.
func FromFlags(values map[string]string) Raw {
	raw := newRaw(SourceFlags)
	for k, v := range values {
		raw.Set(k, RawValue{Text: strings.TrimSpace(v), Kind: KindText, Origin: "flag --" + FlagName(k), Name: "--" + FlagName(k)})
	}
	return raw
}

func suggest(s *schema.RequestSchema, k string) string {
	lk := strings.ToLower(strings.ReplaceAll(k, "_", ""))
	for _, name := range s.FieldNames() {
		if strings.ToLower(name) == lk {
			return fmt.Sprintf(" (did you mean %s?)", name)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
