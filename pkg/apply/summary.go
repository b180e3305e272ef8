package apply

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// AlwaysProtected are the resource types no plan may destroy or replace,
// whatever the configuration says: the database instance and its secrets.
var AlwaysProtected = []string{"aws_db_instance", "aws_secretsmanager_secret", "aws_secretsmanager_secret_version"}

// NeverDestroyed are resource types whose destruction no AllowDestroy can
// allow: a decommission removes a database's secret, never the instance.
var NeverDestroyed = []string{"aws_db_instance"}

// Policy decides which planned changes fail a plan.
type Policy struct {
	// Protected are resource types or address patterns ('*' matches any
	// text) that may not be destroyed or replaced; AlwaysProtected is added.
	Protected []string
	// AllowDestroy are address patterns that may be destroyed all the same
	// (a decommission that break-glass approval allowed). Replacing a
	// protected resource, and destroying a NeverDestroyed one, is never allowed.
	AllowDestroy []string
}

// Change is one resource change of a plan.
type Change struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// Action: create, update, delete, replace, read, move, import, forget, noop.
	Action string `json:"action"`
	// Reason terraform gave for a replace or delete (e.g. cannot_update).
	Reason string `json:"reason,omitempty"`
	// Protected names the rule that protects the resource ("" when none).
	Protected string `json:"protected,omitempty"`
	// Allowed: a protected delete that Policy.AllowDestroy lets through.
	Allowed bool `json:"allowed,omitempty"`
}

// Destructive reports whether the change destroys the resource's current object.
func (c Change) Destructive() bool { return c.Action == "delete" || c.Action == "replace" }

// Blocks reports whether the change fails the plan.
func (c Change) Blocks() bool { return c.Destructive() && c.Protected != "" && !c.Allowed }

// Summary is what a plan would do, and whether the policy lets it.
type Summary struct {
	Version string `json:"terraform_version,omitempty"`
	// Add, Change and Destroy are terraform's own counts (change_summary)
	// or, without one, counted here (a replace adds one and destroys one).
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	// Changes lists destructive changes first (blocking ones before the
	// others), then the rest, each group by address.
	Changes []Change `json:"changes"`
	// Drift are changes made outside terraform that the plan noticed.
	Drift []Change `json:"drift,omitempty"`
	// Errors are error diagnostics ("summary: detail").
	Errors []string `json:"errors,omitempty"`
	// Incomplete: the input ended without a change summary, or was cut
	// short, so the plan cannot be trusted to be complete.
	Incomplete bool `json:"incomplete,omitempty"`
}

// Blocked are the changes that fail the plan.
func (s *Summary) Blocked() []Change {
	var out []Change
	for _, c := range s.Changes {
		if c.Blocks() {
			out = append(out, c)
		}
	}
	return out
}

// Passed reports whether the plan may be applied: no error, complete, and
// nothing protected destroyed or replaced.
func (s *Summary) Passed() bool {
	return len(s.Errors) == 0 && !s.Incomplete && len(s.Blocked()) == 0
}

// Verdict explains Passed in one sentence.
func (s *Summary) Verdict() string {
	switch b := s.Blocked(); {
	case len(b) > 0:
		return fmt.Sprintf("fails: it would destroy or replace %d protected resource(s)", len(b))
	case len(s.Errors) > 0:
		return "fails: terraform reported errors"
	case s.Incomplete:
		return "fails: the plan output is incomplete, so it cannot be checked"
	case s.Add+s.Change+s.Destroy == 0:
		return "passes: no changes"
	}
	return "passes: nothing protected is destroyed or replaced"
}

// uiMessage is a line of terraform's machine-readable UI (-json).
type uiMessage struct {
	Level     string `json:"@level"`
	Message   string `json:"@message"`
	Type      string `json:"type"`
	Terraform string `json:"terraform"`
	Tofu      string `json:"tofu"`
	UI        string `json:"ui"`
	Change    *struct {
		Resource struct {
			Addr         string `json:"addr"`
			ResourceType string `json:"resource_type"`
		} `json:"resource"`
		Action string `json:"action"`
		Reason string `json:"reason"`
	} `json:"change"`
	Changes *struct {
		Add       int    `json:"add"`
		Change    int    `json:"change"`
		Remove    int    `json:"remove"`
		Operation string `json:"operation"`
	} `json:"changes"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
	} `json:"diagnostic"`
}

// SummarizeUI reads the output of `terraform plan -json` (one JSON message
// a line; lines that are not JSON are ignored) into a summary under the
// policy. An unsupported major version of the UI format is an error.
func SummarizeUI(stream []byte, p Policy) (*Summary, error) {
	s := &Summary{Incomplete: true}
	byAddr := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var m uiMessage
		if err := json.Unmarshal(line, &m); err != nil {
			continue
		}
		switch m.Type {
		case "version":
			if !supportedMajor(m.UI, true) {
				return nil, fmt.Errorf("apply: terraform's machine-readable UI version %s is not supported (1.x is)", m.UI)
			}
			s.Version = m.Terraform
			if s.Version == "" {
				s.Version = m.Tofu
			}
		case "planned_change", "resource_drift":
			if m.Change == nil || m.Change.Resource.Addr == "" {
				continue
			}
			c := Change{Address: m.Change.Resource.Addr, Type: m.Change.Resource.ResourceType, Action: m.Change.Action, Reason: m.Change.Reason}
			if c.Type == "" {
				c.Type = typeOf(c.Address)
			}
			if m.Type == "resource_drift" {
				s.Drift = append(s.Drift, c)
				continue
			}
			if i, ok := byAddr[c.Address]; ok { // a later message for the same address wins
				s.Changes[i] = c
				continue
			}
			byAddr[c.Address] = len(s.Changes)
			s.Changes = append(s.Changes, c)
		case "change_summary":
			if m.Changes != nil && (m.Changes.Operation == "plan" || m.Changes.Operation == "") {
				s.Add, s.Change, s.Destroy = m.Changes.Add, m.Changes.Change, m.Changes.Remove
				s.Incomplete = false
			}
		case "diagnostic":
			if m.Diagnostic != nil && m.Diagnostic.Severity == "error" {
				s.Errors = append(s.Errors, diagText(m.Diagnostic.Summary, m.Diagnostic.Detail, m.Diagnostic.Address))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("apply: reading plan output: %w", err)
	}
	s.finish(p, false)
	return s, nil
}

// SummarizeShow reads the JSON of `terraform show -json PLANFILE` (only
// addresses, types and actions; values are never read).
func SummarizeShow(doc []byte, p Policy) (*Summary, error) {
	var plan struct {
		FormatVersion    string `json:"format_version"`
		TerraformVersion string `json:"terraform_version"`
		Errored          bool   `json:"errored"`
		ResourceChanges  []struct {
			Address string `json:"address"`
			Type    string `json:"type"`
			Mode    string `json:"mode"`
			Change  struct {
				Actions []string `json:"actions"`
			} `json:"change"`
			ActionReason string `json:"action_reason"`
		} `json:"resource_changes"`
		ResourceDrift []struct {
			Address string `json:"address"`
			Type    string `json:"type"`
			Change  struct {
				Actions []string `json:"actions"`
			} `json:"change"`
		} `json:"resource_drift"`
	}
	if err := json.Unmarshal(doc, &plan); err != nil {
		return nil, fmt.Errorf("apply: plan JSON: %w", err)
	}
	if !supportedMajor(plan.FormatVersion, false) {
		return nil, fmt.Errorf("apply: plan JSON format_version %q is not supported (1.x is)", plan.FormatVersion)
	}
	s := &Summary{Version: plan.TerraformVersion}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode == "data" {
			continue
		}
		a := actionOf(rc.Change.Actions)
		if a == "noop" {
			continue
		}
		s.Changes = append(s.Changes, Change{Address: rc.Address, Type: rc.Type, Action: a, Reason: strings.ToLower(rc.ActionReason)})
	}
	for _, rd := range plan.ResourceDrift {
		s.Drift = append(s.Drift, Change{Address: rd.Address, Type: rd.Type, Action: actionOf(rd.Change.Actions)})
	}
	if plan.Errored {
		s.Errors = append(s.Errors, "the plan errored")
	}
	s.finish(p, true)
	return s, nil
}

// actionOf maps show -json's action lists to the UI's single action.
func actionOf(actions []string) string {
	switch strings.Join(actions, ",") {
	case "create":
		return "create"
	case "update":
		return "update"
	case "delete":
		return "delete"
	case "delete,create", "create,delete":
		return "replace"
	case "read":
		return "read"
	case "forget":
		return "forget"
	case "no-op", "":
		return "noop"
	}
	return strings.Join(actions, "+")
}

// finish applies the policy, orders the changes and counts when asked.
func (s *Summary) finish(p Policy, count bool) {
	protected := compilePatterns(append(append([]string(nil), AlwaysProtected...), p.Protected...))
	allow, never := compilePatterns(p.AllowDestroy), compilePatterns(NeverDestroyed)
	kept := s.Changes[:0]
	for _, c := range s.Changes {
		if c.Action == "noop" {
			continue
		}
		c.Protected = protected.protects(c)
		c.Allowed = c.Action == "delete" && c.Protected != "" && allow.matchAddress(c.Address) && never.protects(c) == ""
		kept = append(kept, c)
	}
	s.Changes = kept
	sort.SliceStable(s.Changes, func(i, j int) bool {
		a, b := s.Changes[i], s.Changes[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return a.Address < b.Address
	})
	for i := range s.Drift {
		s.Drift[i].Protected = protected.protects(s.Drift[i])
	}
	sort.SliceStable(s.Drift, func(i, j int) bool { return s.Drift[i].Address < s.Drift[j].Address })
	if !count {
		return
	}
	s.Add, s.Change, s.Destroy = 0, 0, 0
	for _, c := range s.Changes {
		switch c.Action {
		case "create":
			s.Add++
		case "update":
			s.Change++
		case "delete":
			s.Destroy++
		case "replace":
			s.Add++
			s.Destroy++
		}
	}
}

func rank(c Change) int {
	switch {
	case c.Blocks():
		return 0
	case c.Destructive():
		return 1
	}
	return 2
}

// pattern is a resource type or address pattern, compiled.
type pattern struct {
	text    string
	address bool // has a '.': matched against the address, else the type
	re      *regexp.Regexp
}

type patterns []pattern

// compilePatterns compiles patterns where '*' stands for any text and
// every other character for itself (addresses hold brackets and quotes).
func compilePatterns(list []string) patterns {
	out := make(patterns, 0, len(list))
	for _, p := range list {
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		out = append(out, pattern{text: p, address: strings.Contains(p, "."), re: regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")})
	}
	return out
}

// protects names the first pattern that matches the change's resource.
func (ps patterns) protects(c Change) string {
	typ := c.Type
	if typ == "" {
		typ = typeOf(c.Address)
	}
	for _, p := range ps {
		if p.address && p.re.MatchString(c.Address) || !p.address && p.re.MatchString(typ) {
			return p.text
		}
	}
	return ""
}

func (ps patterns) matchAddress(addr string) bool {
	for _, p := range ps {
		if p.re.MatchString(addr) {
			return true
		}
	}
	return false
}

// matchProtected names the first of the patterns that protects the change.
func matchProtected(c Change, list []string) string { return compilePatterns(list).protects(c) }

// typeOf is the resource type of an address: the part before the name,
// after any module path (module.a.aws_x.y["k"] -> aws_x).
func typeOf(addr string) string {
	base := addr
	if i := strings.IndexByte(base, '['); i >= 0 {
		base = base[:i]
	}
	parts := strings.Split(base, ".")
	for len(parts) >= 2 && parts[0] == "module" {
		parts = parts[2:]
	}
	if len(parts) >= 2 && parts[0] == "data" {
		parts = parts[1:]
	}
	if len(parts) >= 2 {
		return parts[0]
	}
	return base
}

// supportedMajor accepts format versions 0.x and 1.x (and none, when allowed).
func supportedMajor(v string, emptyOK bool) bool {
	if v == "" {
		return emptyOK
	}
	major, _, _ := strings.Cut(v, ".")
	return major == "0" || major == "1"
}

func diagText(summary, detail, addr string) string {
	out := summary
	if addr != "" {
		out = addr + ": " + out
	}
	if d := strings.TrimSpace(detail); d != "" {
		out += ": " + d
	}
	return out
}
