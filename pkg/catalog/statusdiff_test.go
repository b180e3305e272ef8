package catalog

import (
	"strings"
	"testing"
	"time"
)

const statusDoc = `# the dev catalog
version: "1.0"
domain: platform-core
owner: platform-team
last_updated: "2026-11-01"
managed_by: platform-team
environment: dev
databases:
  orders:
    metadata:
      id: DATABASE_ORDERS
      request_id: RDS-0042
      owner: app-team
      requested_by: alice
      domain: delivery
      risk: medium
      environment: dev
      status: pending
      created_date: "2026-11-01"
    configuration:
      username: orders_app
      size_tier: small
      instance_class: db.t3.micro
      secret_path: goldenpath/dev/orders/postgres
`

func TestStatusOnly(t *testing.T) {
	opts := Options{Environment: "dev", Filename: "dev.yaml"}
	approved := func(t *testing.T) string {
		f, err := Parse([]byte(statusDoc), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Apply("orders", "dev", Change{To: StatusApproved, At: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Commit: "abc"}); err != nil {
			t.Fatal(err)
		}
		out, err := f.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	tests := []struct {
		name   string
		before func(t *testing.T) string
		after  func(t *testing.T) string
		ok     bool
		why    string
	}{
		{name: "a transition", before: fixed(statusDoc), after: approved, ok: true},
		{name: "nothing changed", before: fixed(statusDoc), after: fixed(statusDoc), ok: true},
		{name: "only comments and layout", before: fixed(statusDoc),
			after: edited(statusDoc, "# the dev catalog\n", "# rewritten\n"), ok: true},
		{name: "another field too", before: fixed(statusDoc),
			after: func(t *testing.T) string {
				return strings.Replace(approved(t), "size_tier: small", "size_tier: large", 1)
			},
			why: "fields other than status"},
		{name: "a header field", before: fixed(statusDoc),
			after: edited(statusDoc, "owner: platform-team", "owner: someone"), why: "fields other than status"},
		{name: "an entry added", before: fixed(statusDoc),
			after: func(t *testing.T) string {
				return statusDoc + strings.ReplaceAll(statusDoc[strings.Index(statusDoc, "  orders:"):], "orders", "billing")
			}, why: "entry billing was added"},
		{name: "an entry removed", before: fixed(statusDoc),
			after: fixed(statusDoc[:strings.Index(statusDoc, "  orders:")] + "  {}\n"), why: "fields other than status"},
		{name: "status without history", before: fixed(statusDoc),
			after: edited(statusDoc, "status: pending", "status: active"), why: "without a history event"},
		{name: "history rewritten", before: approved,
			after: func(t *testing.T) string { return strings.Replace(approved(t), "commit: abc", "commit: xyz", 1) },
			why:   "history of orders was rewritten"},
		{name: "history names another status", before: fixed(statusDoc),
			after: func(t *testing.T) string {
				return strings.Replace(approved(t), "      status: approved\n", "      status: active\n", 1)
			}, why: "does not name its status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, why, err := StatusOnly([]byte(tc.before(t)), []byte(tc.after(t)))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || (!tc.ok && !strings.Contains(why, tc.why)) {
				t.Fatalf("StatusOnly = %v %q, want %v %q", ok, why, tc.ok, tc.why)
			}
		})
	}
	if _, _, err := StatusOnly([]byte(statusDoc), []byte("- a list\n")); err == nil {
		t.Error("a list was taken for a catalog")
	}
}

func fixed(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

func edited(s, old, new string) func(*testing.T) string {
	return func(t *testing.T) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in the document", old)
		}
		return strings.Replace(s, old, new, 1)
	}
}
