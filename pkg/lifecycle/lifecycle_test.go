package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// legal is the state machine of DESIGN.md, written out independently of the
// package's table.
var legal = map[[2]State]bool{
	{Pending, Approved}:               true,
	{Pending, Failed}:                 true, // merged past the approval check
	{Approved, Applying}:              true,
	{Approved, Provisioning}:          true, // nothing to apply (coupled builds)
	{Approved, Failed}:                true,
	{Applying, Provisioning}:          true,
	{Applying, Active}:                true, // nothing to provision
	{Applying, Failed}:                true,
	{Provisioning, Active}:            true,
	{Provisioning, Failed}:            true,
	{Failed, Applying}:                true, // a retry of the failed step
	{Failed, Provisioning}:            true,
	{Failed, Decommissioning}:         true,
	{Active, Decommissioning}:         true,
	{Decommissioning, Decommissioned}: true,
	{Decommissioning, Failed}:         true,
}

func TestCheckTransitionEveryPair(t *testing.T) {
	all := append(Persisted(), "", "archived")
	for _, from := range all {
		for _, to := range all {
			err := CheckTransition(from, to)
			if legal[[2]State{from, to}] {
				if err != nil {
					t.Errorf("%q → %q: %v, want legal", from, to, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%q → %q is allowed, want an error", from, to)
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || te.From != from || te.To != to || !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("%q → %q: error %#v is not a TransitionError for that pair", from, to, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, string(from)) || !strings.Contains(msg, string(to)) {
				t.Errorf("%q → %q: %q does not name both statuses", from, to, msg)
			}
			if from.Persistable() && to.Persistable() {
				for _, n := range from.Next() {
					if !strings.Contains(msg, "can only be") || !strings.Contains(msg, string(n)) {
						t.Errorf("%q → %q: %q does not list the legal next status %q", from, to, msg, n)
					}
				}
			}
		}
	}
}

func TestTransitionMessages(t *testing.T) {
	tests := []struct {
		from, to State
		want     string
	}{
		{Pending, Provisioning, "illegal status transition pending → provisioning: from pending the next status can only be approved or failed"},
		{Active, Pending, "illegal status transition active → pending: from active the next status can only be decommissioning"},
		{Approved, Active, "illegal status transition approved → active: from approved the next status can only be applying, provisioning or failed"},
		{Active, Active, "illegal status transition active → active: from active the next status can only be decommissioning"},
		{Decommissioned, Active, "illegal status transition decommissioned → active: decommissioned is final, no transition leaves it"},
		{"done", Active, `illegal status transition "done" → "active": the current status "done" is not a known status (known: pending, approved, applying, provisioning, active, failed, decommissioning, decommissioned)`},
		{Pending, "done", `illegal status transition pending → "done": "done" is not a known status (known: pending, approved, applying, provisioning, active, failed, decommissioning, decommissioned)`},
	}
	for _, tc := range tests {
		err := CheckTransition(tc.from, tc.to)
		if err == nil || err.Error() != tc.want {
			t.Errorf("CheckTransition(%q, %q) = %v\nwant %s", tc.from, tc.to, err, tc.want)
		}
	}
	if got := (&TransitionError{From: Provisioning, To: Decommissioned}).Error(); !strings.HasSuffix(got, "can only be active or failed") {
		t.Errorf("two next statuses: %q", got)
	}
}

func TestNextAndFinal(t *testing.T) {
	tests := []struct {
		s     State
		next  []State
		final bool
	}{
		{Pending, []State{Approved, Failed}, false},
		{Approved, []State{Applying, Provisioning, Failed}, false},
		{Applying, []State{Provisioning, Active, Failed}, false},
		{Provisioning, []State{Active, Failed}, false},
		{Active, []State{Decommissioning}, false},
		{Failed, []State{Applying, Provisioning, Decommissioning}, false},
		{Decommissioning, []State{Decommissioned, Failed}, false},
		{Withdrawn, nil, true},
		{Decommissioned, nil, true},
		{"bogus", nil, false},
	}
	for _, tc := range tests {
		if got := tc.s.Next(); !slices.Equal(got, tc.next) {
			t.Errorf("%q.Next() = %v, want %v", tc.s, got, tc.next)
		}
		if got := tc.s.Final(); got != tc.final {
			t.Errorf("%q.Final() = %v, want %v", tc.s, got, tc.final)
		}
	}
	// Next returns a copy: changing it does not change the state machine.
	n := Pending.Next()
	n[0] = Active
	if Pending.Next()[0] != Approved {
		t.Error("Next exposes the transition table")
	}
}

func TestParseState(t *testing.T) {
	for _, s := range Persisted() {
		got, err := ParseState(string(s))
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "Active", "done", " pending"} {
		if _, err := ParseState(bad); err == nil || !strings.Contains(err.Error(), "known: pending") {
			t.Errorf("ParseState(%q) = %v, want an error listing the statuses", bad, err)
		}
	}
}

// statusEnum returns rds.request_status from schemas/metadata/enums.yaml, or
// the list of the spec (§1.1) while that file does not exist.
func statusEnum(t *testing.T) []string {
	t.Helper()
	path := filepath.Join("..", "..", "schemas", "metadata", "enums.yaml")
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("%s does not exist; checking against the list of the spec", path)
		return []string{"pending", "approved", "applying", "provisioning", "active", "failed", "decommissioning", "decommissioned"}
	}
	if err != nil {
		t.Fatal(err)
	}
	var enums struct {
		RDS struct {
			RequestStatus struct {
				Values []string `yaml:"values"`
			} `yaml:"request_status"`
		} `yaml:"rds"`
	}
	if err := yaml.Unmarshal(src, &enums); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(enums.RDS.RequestStatus.Values) == 0 {
		t.Fatalf("%s has no rds.request_status.values", path)
	}
	return enums.RDS.RequestStatus.Values
}

func TestStatusesMatchSchemaEnum(t *testing.T) {
	if err := CheckEnum(statusEnum(t)); err != nil {
		t.Fatal(err)
	}
}

func TestCheckEnum(t *testing.T) {
	full := []string{"decommissioned", "pending", "approved", "applying", "provisioning", "active", "failed", "decommissioning"}
	tests := []struct {
		name   string
		values []string
		want   []string // substrings, all of which must appear
	}{
		{"same set, other order", full, nil},
		{"missing", full[1:], []string{`has status "decommissioned", which the enum lacks`}},
		{"extra and missing", append(slices.Clone(full[:7]), "retired"), []string{`"retired" has no place`, `"decommissioning", which the enum lacks`}},
		{"duplicate", append(slices.Clone(full), "active"), []string{`"active" is listed twice`}},
		{"empty", nil, []string{`"pending", which the enum lacks`, `"decommissioned", which the enum lacks`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEnum(tc.values)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
