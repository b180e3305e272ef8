package catalog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src []byte, opts Options) *File {
	t.Helper()
	f, err := Parse(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustBytes(t *testing.T, f *File) []byte {
	t.Helper()
	b, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var devOpts = Options{Environment: "dev", Filename: "rds-catalog/dev.yaml"}

// Re-upserting the same request returns the same bytes, whatever the
// entry's status, and keeps status and created_date (defect G-8).
func TestReupsertIdenticalKeepsBytes(t *testing.T) {
	inputs := []struct {
		name string
		src  []byte
		opts Options
		spec Spec
	}{
		{"seeded", nil, devOpts, spec("orders", "dev", "RDS-0042")},
		{"commented", input(t, "commented-per-env.yaml"), devOpts, spec("orders", "dev", "RDS-0042")},
		{"original single file", input(t, "original-single-file.yaml"), Options{Layout: LayoutSingleFile}, spec("orders", "prod", "RDS-0042")},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			f := mustParse(t, in.src, in.opts)
			if changed, err := f.Upsert(in.spec, t0); err != nil || !changed {
				t.Fatalf("first upsert: changed=%v err=%v", changed, err)
			}
			first := mustBytes(t, f)

			// A day later, from a fresh parse of what was written.
			g := mustParse(t, first, in.opts)
			changed, err := g.Upsert(in.spec, t0.Add(24*time.Hour))
			if err != nil || changed {
				t.Fatalf("re-upsert: changed=%v err=%v, want no change", changed, err)
			}
			if got := mustBytes(t, g); !bytes.Equal(got, first) {
				t.Fatalf("re-upsert changed the bytes:\n%s\nwant\n%s", got, first)
			}

			// Moved on to active: an identical replay is still a no-op.
			for _, st := range []Status{StatusApproved, StatusProvisioning, StatusActive} {
				if err := g.SetStatus(in.spec.Name, in.spec.Environment, st, t0.Add(25*time.Hour), ""); err != nil {
					t.Fatal(err)
				}
			}
			active := mustBytes(t, g)
			h := mustParse(t, active, in.opts)
			changed, err = h.Upsert(in.spec, t0.Add(48*time.Hour))
			if err != nil || changed {
				t.Fatalf("replay on active: changed=%v err=%v, want no change", changed, err)
			}
			if got := mustBytes(t, h); !bytes.Equal(got, active) {
				t.Fatal("replay on an active entry changed the bytes")
			}
			e, _ := h.Get(in.spec.Name, in.spec.Environment)
			if e.Metadata.Status != StatusActive || e.Metadata.CreatedDate != "2026-02-03" || len(e.Metadata.History) != 4 {
				t.Fatalf("entry after replay: %+v", e.Metadata)
			}
		})
	}
}

func TestUpdateKeepsStatusAndCreatedDate(t *testing.T) {
	f := mustParse(t, nil, devOpts)
	s := spec("orders", "dev", "RDS-0042")
	if _, err := f.Upsert(s, t0); err != nil {
		t.Fatal(err)
	}
	for _, st := range []Status{StatusApproved, StatusProvisioning, StatusFailed} {
		if err := f.SetStatus("orders", "dev", st, t0.Add(time.Hour), ""); err != nil {
			t.Fatal(err)
		}
	}
	s.Configuration.SizeTier, s.Configuration.InstanceClass = "medium", "db.t3.small"
	changed, err := f.Upsert(s, t0.Add(72*time.Hour))
	if err != nil || !changed {
		t.Fatalf("update of a failed entry: changed=%v err=%v", changed, err)
	}
	g := mustParse(t, mustBytes(t, f), devOpts)
	e, ok := g.Get("orders", "dev")
	if !ok {
		t.Fatal("entry gone")
	}
	want := Metadata{
		ID: "DATABASE_ORDERS", RequestID: "RDS-0042", Owner: "app-team", RequestedBy: "jdoe", Domain: "delivery",
		Risk: "low", Environment: "dev", Status: StatusFailed, CreatedDate: "2026-02-03",
		History: []StatusEvent{
			{Status: StatusPending, At: t0},
			{Status: StatusApproved, At: t0.Add(time.Hour)},
			{Status: StatusProvisioning, At: t0.Add(time.Hour)},
			{Status: StatusFailed, At: t0.Add(time.Hour)},
		},
	}
	if !reflect.DeepEqual(e.Metadata, want) {
		t.Errorf("metadata\n%+v\nwant\n%+v", e.Metadata, want)
	}
	if e.Configuration.SizeTier != "medium" || e.Configuration.InstanceClass != "db.t3.small" {
		t.Errorf("configuration not updated: %+v", e.Configuration)
	}
	if h := g.Header(); h.LastUpdated != "2026-02-06" {
		t.Errorf("last_updated = %q, want the day of the update", h.LastUpdated)
	}
}

func TestReadBack(t *testing.T) {
	f := mustParse(t, input(t, "commented-per-env.yaml"), devOpts)
	if h := f.Header(); h != (Header{Version: "1.0", Domain: "platform-core", Owner: "someone-else", ManagedBy: "platform-team", LastUpdated: "2026-01-20", Environment: "dev"}) {
		t.Errorf("header %+v", h)
	}
	entries := f.Entries()
	if len(entries) != 2 || entries[0].Name != "billing" || entries[1].Name != "payments" {
		t.Fatalf("entries %+v", entries)
	}
	b := entries[0]
	if b.Metadata.Status != StatusActive || b.Metadata.RequestID != "RDS-0012" || len(b.Metadata.History) != 4 ||
		b.Metadata.History[1].Note != "approved by @acme/platform-team" ||
		!b.Metadata.History[3].At.Equal(time.Date(2026, 1, 10, 12, 9, 30, 0, time.UTC)) ||
		b.Configuration != (Configuration{"billing_user", "small", "db.t3.micro", "goldenpath/dev/billing/postgres"}) {
		t.Errorf("billing %+v", b)
	}
	if _, ok := f.Get("billing", "prod"); ok {
		t.Error("Get found a dev entry for prod")
	}
	if _, ok := f.Get("nosuch", "dev"); ok {
		t.Error("Get found a missing entry")
	}

	single := mustParse(t, input(t, "single-file-multi.yaml"), Options{Layout: LayoutSingleFile})
	if e, ok := single.Get("reports", "prod"); !ok || e.Metadata.RequestID != "" || e.Configuration.SizeTier != "medium" {
		t.Errorf("single-file Get(reports, prod) = %+v, %v", e, ok)
	}
	if _, ok := single.Get("reports", "dev"); ok {
		t.Error("single-file Get matched another environment")
	}
}

func TestPRNumberRecorded(t *testing.T) {
	f := mustParse(t, nil, devOpts)
	s := spec("orders", "dev", "RDS-0042")
	if _, err := f.Upsert(s, t0); err != nil {
		t.Fatal(err)
	}
	s.PRNumber, s.PRURL = 17, "https://github.com/acme/infra/pull/17"
	if changed, err := f.Upsert(s, t0); err != nil || !changed {
		t.Fatalf("recording the PR: changed=%v err=%v", changed, err)
	}
	e, _ := f.Get("orders", "dev")
	if e.Metadata.PRNumber != 17 || e.Metadata.PRURL != s.PRURL {
		t.Errorf("pr %d %q", e.Metadata.PRNumber, e.Metadata.PRURL)
	}
}

func TestConflictsLeaveTheFileAlone(t *testing.T) {
	src := input(t, "commented-per-env.yaml")
	change := spec("billing", "dev", "RDS-0012")
	change.Configuration.SizeTier = "xlarge"
	for name, s := range map[string]Spec{
		"other request":         spec("billing", "dev", "RDS-0099"),
		"change active":         change,
		"other request pending": spec("payments", "dev", "RDS-0099"),
	} {
		f := mustParse(t, src, devOpts)
		changed, err := f.Upsert(s, t0)
		if !errors.Is(err, ErrConflict) || changed || f.Changed() {
			t.Errorf("%s: changed=%v err=%v, want an ErrConflict and no change", name, changed, err)
		}
		if !bytes.Equal(mustBytes(t, f), src) {
			t.Errorf("%s: bytes changed", name)
		}
	}
	f := mustParse(t, src, devOpts)
	if err := f.SetStatus("nosuch", "dev", StatusApproved, t0, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus on a missing entry: %v", err)
	}
	if err := f.SetStatus("billing", "prod", StatusDecommissioning, t0, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus in another environment: %v", err)
	}
	if err := f.SetStatus("billing", "dev", StatusApproved, t0, ""); !errors.Is(err, ErrIllegalTransition) {
		t.Errorf("active → approved: %v", err)
	}
	if _, err := f.Upsert(spec("orders", "dev", "RDS-0042"), time.Time{}); err == nil {
		t.Error("Upsert without a time succeeded")
	}
	if err := f.SetStatus("payments", "dev", StatusApproved, time.Time{}, ""); err == nil {
		t.Error("SetStatus without a time succeeded")
	}
	if f.Changed() {
		t.Error("failed calls marked the file changed")
	}
}

func TestSingleFileCollision(t *testing.T) {
	src := input(t, "single-file-multi.yaml")
	f := mustParse(t, src, Options{Layout: LayoutSingleFile})
	for _, s := range []Spec{spec("orders", "prod", "RDS-0042"), spec("orders", "prod", "RDS-0007"), spec("reports", "dev", "RDS-0042")} {
		_, err := f.Upsert(s, t0)
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already exists in environment") {
			t.Errorf("%s in %s: %v, want a collision error", s.Name, s.Environment, err)
		}
	}
	// Another name in another environment is fine.
	if changed, err := f.Upsert(spec("inventory", "prod", "RDS-0050"), t0); err != nil || !changed {
		t.Fatalf("new name: changed=%v err=%v", changed, err)
	}
	g := mustParse(t, mustBytes(t, f), Options{Layout: LayoutSingleFile})
	if _, ok := g.Get("orders", "dev"); !ok {
		t.Error("orders in dev lost")
	}
	if e, ok := g.Get("inventory", "prod"); !ok || e.Metadata.Environment != "prod" {
		t.Error("inventory in prod not recorded")
	}
	if h := g.Header(); h.Environment != "" || h.RDSInstance != "" {
		t.Errorf("single-file header got per-env fields: %+v", h)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		want string
	}{
		{"not yaml", "databases: [\n", devOpts, "not valid YAML"},
		{"two documents", "version: \"1.0\"\n---\nversion: \"2\"\n", devOpts, ":2: holds a second YAML document"},
		{"top-level list", "- a\n- b\n", devOpts, "top level of a catalog must be a mapping"},
		{"databases list", "databases:\n  - orders\n", devOpts, "databases: must be a mapping of database name to entry, not a list"},
		{"databases scalar", "databases: none\n", devOpts, "databases: must be a mapping"},
		{"repeated key", "owner: a\nowner: b\ndatabases: {}\n", devOpts, ":2: owner: the key is repeated (first at line 1)"},
		{"repeated database", "databases:\n  orders: {}\n  orders: {}\n", devOpts, ":3: databases.orders: the key is repeated"},
		{"alias", "x: &a {}\ndatabases:\n  orders: *a\n", devOpts, "YAML anchors (&a) are not supported"},
		{"merge key", "databases:\n  orders:\n    <<: *a\n", devOpts, "not valid YAML"},
		{"other environment", "environment: prod\ndatabases: {}\n", devOpts, `environment: the file says "prod" but it is read as the catalog of "dev"`},
		{"per-env without environment", "", Options{}, "needs the file's environment"},
		{"bad layout", "", Options{Layout: "by-team"}, `catalog layout "by-team" is not one of`},
		{"database key not scalar", "databases:\n  ? [a, b]\n  : {}\n", devOpts, "every key must be a database name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Several problems are reported at once.
	_, err := Parse([]byte("owner: a\nowner: b\nenvironment: prod\ndatabases:\n  x: {}\n  x: {}\n"), devOpts)
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want three problems at once, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	f := mustParse(t, input(t, "invalid-entries.yaml"), Options{Environment: "dev", Filename: "invalid-entries.yaml"})
	err := f.Validate()
	if err == nil {
		t.Fatal("no problems found")
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line == 0 {
		t.Errorf("problems are not FieldErrors with lines: %#v", err)
	}
	golden(t, "validate-invalid-entries.err", []byte(err.Error()+"\n"))

	for _, name := range []string{"commented-per-env.yaml", "legacy-per-env.yaml"} {
		if err := mustParse(t, input(t, name), devOpts).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"original-single-file.yaml", "single-file-multi.yaml"} {
		if err := mustParse(t, input(t, name), Options{Layout: LayoutSingleFile}).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The example catalogs of the repository must parse, validate and survive
// an upsert with their comments.
func TestRepositoryCatalogs(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "rds-catalog", "*.yaml"))
	if len(paths) == 0 {
		t.Skip("no rds-catalog/*.yaml in this checkout")
	}
	for _, p := range paths {
		env := strings.TrimSuffix(filepath.Base(p), ".yaml")
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Environment: env, Filename: p}
		f, err := Parse(src, opts)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := f.Validate(); err != nil {
			t.Errorf("%v", err)
		}
		if _, err := f.Upsert(spec("rdsbot_probe", env, "RDS-9999"), t0); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		out := mustBytes(t, f)
		for line := range strings.Lines(string(src)) {
			if c := strings.TrimSpace(line); strings.HasPrefix(c, "#") && !bytes.Contains(out, []byte(c)) {
				t.Errorf("%s: comment %q lost by an upsert", p, c)
			}
		}
	}
}

// parse → encode → parse reads back the same, and encoding is a fixpoint.
func TestRoundTrip(t *testing.T) {
	var files []string
	for _, dir := range []string{"in", "golden"} {
		m, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		files = append(files, m...)
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{Layout: LayoutSingleFile, Filename: path} // reads every file without an environment check
			f := mustParse(t, src, opts)
			enc, err := f.encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.verify(enc); err != nil {
				t.Fatal(err)
			}
			g := mustParse(t, enc, opts)
			if !reflect.DeepEqual(f.Entries(), g.Entries()) || f.Header() != g.Header() {
				t.Fatal("round trip changed what the file says")
			}
			enc2, err := g.encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, enc2) {
				t.Errorf("encoding is not a fixpoint:\n%s\nthen\n%s", enc, enc2)
			}
			if strings.HasPrefix(path, filepath.Join("testdata", "golden")) && !bytes.Equal(enc, src) {
				t.Errorf("rdsbot's own output is not stable under parse → encode:\n%s", enc)
			}
		})
	}
}

func TestBytesOfUnchangedFile(t *testing.T) {
	src := input(t, "commented-per-env.yaml")
	f := mustParse(t, src, devOpts)
	if !bytes.Equal(mustBytes(t, f), src) || f.Changed() {
		t.Error("an unchanged file does not return its input")
	}
	empty := mustParse(t, nil, devOpts)
	if b := mustBytes(t, empty); len(b) != 0 {
		t.Errorf("an unchanged seeded file wrote %q", b)
	}
	if h := empty.Header(); h.Version != "1.0" || h.Environment != "dev" {
		t.Errorf("seeded header %+v", h)
	}
}

// An upsert that changes no entry leaves the header alone too: the owner
// is forced and last_updated bumped only along with a real change.
func TestHeaderOnlyTouchedWithAChange(t *testing.T) {
	src := input(t, "commented-per-env.yaml") // owner: someone-else
	f := mustParse(t, src, devOpts)
	same := spec("payments", "dev", "RDS-0031")
	same.RequestedBy = "bjones"
	if changed, err := f.Upsert(same, t0); err != nil || changed {
		t.Fatalf("identical upsert: changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(mustBytes(t, f), src) {
		t.Fatal("identical upsert rewrote the header")
	}
	same.Risk = "medium"
	if changed, err := f.Upsert(same, t0); err != nil || !changed {
		t.Fatalf("real change: changed=%v err=%v", changed, err)
	}
	if h := f.Header(); h.Owner != PlatformTeam || h.ManagedBy != PlatformTeam || h.LastUpdated != "2026-02-03" {
		t.Errorf("header after a change: %+v", h)
	}
}

// Dates and times are written in UTC whatever the zone of the time given.
func TestTimesAreUTC(t *testing.T) {
	ny := time.FixedZone("UTC-5", -5*3600)
	late := time.Date(2026, 2, 3, 23, 30, 0, 0, ny) // 2026-02-04T04:30:00Z
	f := mustParse(t, nil, devOpts)
	if _, err := f.Upsert(spec("orders", "dev", "RDS-0042"), late); err != nil {
		t.Fatal(err)
	}
	out := string(mustBytes(t, f))
	for _, want := range []string{`created_date: "2026-02-04"`, `last_updated: "2026-02-04"`, `at: "2026-02-04T04:30:00Z"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

// An entry written before rdsbot is adopted by adding its request_id by
// hand; its id is never rewritten.
func TestAdoptLegacyEntry(t *testing.T) {
	src := strings.Replace(string(input(t, "legacy-per-env.yaml")),
		"      id: DATABASE_KEYCLOAK\n", "      id: RDS_KEYCLOAK\n      request_id: RDS-0042\n", 1)
	f := mustParse(t, []byte(src), devOpts)
	s := Spec{Name: "keycloak", RequestID: "RDS-0042", Owner: "platform-team", RequestedBy: "platform-team",
		Domain: "identity", Risk: "medium", Environment: "dev",
		Configuration: Configuration{"keycloak_user", "small", "db.t3.micro", "goldenpath/dev/keycloak/postgres"}}
	if changed, err := f.Upsert(s, t0); err != nil || changed {
		t.Fatalf("adopting an identical entry: changed=%v err=%v", changed, err)
	}
	s.Configuration.SizeTier = "medium"
	if changed, err := f.Upsert(s, t0); err != nil || !changed {
		t.Fatalf("changing the adopted entry: changed=%v err=%v", changed, err)
	}
	e, _ := f.Get("keycloak", "dev")
	if e.Metadata.ID != "RDS_KEYCLOAK" || e.Metadata.CreatedDate != "2026-01-15" || e.Metadata.Status != StatusPending || e.Metadata.History != nil {
		t.Errorf("adopted entry lost its own fields: %+v", e.Metadata)
	}
	if err := f.SetStatus("keycloak", "dev", StatusApproved, t0, ""); err != nil {
		t.Fatal(err)
	}
	e, _ = f.Get("keycloak", "dev")
	if len(e.Metadata.History) != 1 || e.Metadata.History[0].Status != StatusApproved {
		t.Errorf("history of an entry that had none: %+v", e.Metadata.History)
	}
	if err := mustParse(t, mustBytes(t, f), devOpts).Validate(); err != nil {
		t.Error(err)
	}
}

// A transition records its reason, note and commit, reads back, and
// validates; a reason of another status or a malformed commit is refused.
func TestApplyRecordsConditions(t *testing.T) {
	src := []byte("databases:\n  orders:\n    metadata:\n      id: DATABASE_ORDERS\n      request_id: RDS-0042\n      owner: app-team\n      requested_by: jane\n      domain: delivery\n      risk: low\n      environment: dev\n      status: approved\n      created_date: \"2026-02-03\"\n    configuration:\n      username: orders_app\n      size_tier: small\n      instance_class: db.t3.micro\n      secret_path: goldenpath/dev/orders/postgres\n")
	f, err := Parse(src, Options{Filename: "rds-catalog/dev.yaml", Layout: LayoutPerEnv, Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 4, 9, 0, 0, 0, time.UTC)
	if err := f.Apply("orders", "dev", Change{To: StatusApplying, At: at, Reason: "ApplyStarted", Note: "run 7", Commit: "0123456789abcdef0123456789abcdef01234567"}); err != nil {
		t.Fatal(err)
	}
	out, err := f.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"reason: ApplyStarted", "note: run 7", "commit: 0123456789abcdef0123456789abcdef01234567"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	g, _ := Parse(out, Options{Filename: "rds-catalog/dev.yaml", Layout: LayoutPerEnv, Environment: "dev"})
	e, _ := g.Get("orders", "dev")
	last := e.Metadata.History[len(e.Metadata.History)-1]
	if last.Reason != "ApplyStarted" || last.Commit != "0123456789abcdef0123456789abcdef01234567" || last.Status != StatusApplying {
		t.Errorf("read back %+v", last)
	}
	bad := strings.Replace(string(out), "reason: ApplyStarted", "reason: Provisioned", 1)
	bad = strings.Replace(bad, "commit: 0123456789abcdef0123456789abcdef01234567", "commit: main", 1)
	h, _ := Parse([]byte(bad), Options{Filename: "rds-catalog/dev.yaml", Layout: LayoutPerEnv, Environment: "dev"})
	err = h.Validate()
	if err == nil || !strings.Contains(err.Error(), `"Provisioned" is a reason of status active, not of applying`) || !strings.Contains(err.Error(), `"main" must be a commit id`) {
		t.Errorf("validate: %v", err)
	}
}
