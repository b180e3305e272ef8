package bot

import (
	"testing"
	"testing/fstest"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

func TestRunLink(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://github.com/acme/infra/actions/runs/42", "[42](https://github.com/acme/infra/actions/runs/42)"},
		{"http://127.0.0.1:8080/acme/infra/actions/runs/7", "[7](http://127.0.0.1:8080/acme/infra/actions/runs/7)"},
		{"", ""},
		{"javascript:alert(1)", ""},
		{"https://x/runs/1)[evil](https://y", ""},
		{"/relative/runs/3", ""},
	} {
		if got := runLink(c.in); got != c.want {
			t.Errorf("runLink(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAuditChangeAppendsOnlyNewRecords(t *testing.T) {
	const path = "governance/dev/rds_provision_audit.csv"
	a := "2026-12-03T10:00:00Z,dev,b1,r1,orders,orders_app,create_role,success,12,created\n"
	b := "2026-12-03T10:00:01Z,dev,b1,r1,orders,orders_app,create_database,success,30,created\n"
	for _, c := range []struct {
		name    string
		files   fstest.MapFS
		records []string
		want    string
		changed bool
	}{
		{"new file gets the header", fstest.MapFS{}, []string{a}, audit.Header + "\n" + a, true},
		{"appends what is missing", fstest.MapFS{path: {Data: []byte(audit.Header + "\n" + a)}}, []string{a, b}, audit.Header + "\n" + a + b, true},
		{"nothing new, no change", fstest.MapFS{path: {Data: []byte(audit.Header + "\n" + a + b)}}, []string{a, b}, "", false},
		{"no records", fstest.MapFS{}, nil, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, ok, err := auditChange(c.files, "dev", c.records)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.changed || (ok && string(ch.New) != c.want) {
				t.Errorf("auditChange = %q, %v; want %q, %v", ch.New, ok, c.want, c.changed)
			}
		})
	}
}
