package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

// TestFreshRunThenRerun is the main path against an RDS-shaped server: a
// fresh run creates roles, databases and grants (checked in the catalogues
// and by logging in over TLS), the server log never holds a password, and a
// second run sends no DDL and reads no secret value.
func TestFreshRunThenRerun(t *testing.T) {
	e := newTestEnv(t)
	a := e.entry("a", "orders", "orders_app", Owner)
	b := e.entry("b", "billing", "billing_app", Owner)
	b.CreateDB = false
	r := e.entry("r", "orders", "orders_reader", Reader)
	w := e.entry("w", "orders", "orders_writer", Editor)
	entries := []Entry{a, b, r, w}

	from := e.logOffset()
	rep := e.run(e.opts(entries))
	ddl := e.ddlSince(from)
	if rep.DDL != len(ddl) || rep.DDL == 0 {
		t.Errorf("report counts %d DDL, the server log %d", rep.DDL, len(ddl))
	}
	for _, res := range rep.Results {
		if res.Outcome != Created {
			t.Errorf("%s: outcome %s, want created (%v)", res.Key, res.Outcome, res.Changes)
		}
	}

	// Catalogue: attributes, owners, ACLs, marks.
	conn := e.super("postgres")
	ctx := ctxT(t)
	for _, en := range entries {
		var login, createdb, super, createrole, repl, bypass bool
		var comment string
		if err := conn.QueryRow(ctx, `SELECT rolcanlogin, rolcreatedb, rolsuper, rolcreaterole, rolreplication, rolbypassrls,
			shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, en.Username).
			Scan(&login, &createdb, &super, &createrole, &repl, &bypass, &comment); err != nil {
			t.Fatal(err)
		}
		if !login || createdb != en.CreateDB || super || createrole || repl || bypass {
			t.Errorf("%s: login=%v createdb=%v super=%v createrole=%v replication=%v bypassrls=%v", en.Username, login, createdb, super, createrole, repl, bypass)
		}
		if m, ok := parseRoleMark(comment); !ok || m.State != stateActive || m.Secret != SecretPath("goldenpath", "dev", en.Key) {
			t.Errorf("%s: comment %q", en.Username, comment)
		}
	}
	for _, db := range []struct{ name, owner string }{{a.Database, a.Username}, {b.Database, b.Username}} {
		var owner string
		var publicAccess bool
		if err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), EXISTS (SELECT 1 FROM aclexplode(datacl) x WHERE x.grantee = 0) OR datacl IS NULL
			FROM pg_database WHERE datname = $1`, db.name).Scan(&owner, &publicAccess); err != nil {
			t.Fatal(err)
		}
		if owner != db.owner || publicAccess {
			t.Errorf("%s: owner %s, PUBLIC access %v", db.name, owner, publicAccess)
		}
	}

	// Each application logs in over TLS with its secret; the owner creates
	// a table; the editor writes it and the reader reads it thanks to the
	// default privileges set inside the database.
	ownerConn := e.mustLogin(a.Username, a.Database)
	exec(t, ownerConn, "CREATE TABLE public.orders (id serial PRIMARY KEY, note text)")
	exec(t, ownerConn, "INSERT INTO orders (note) VALUES ('first')")
	writer := e.mustLogin(w.Username, a.Database)
	exec(t, writer, "INSERT INTO orders (note) VALUES ('second')")
	reader := e.mustLogin(r.Username, a.Database)
	var n int
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 2 {
		t.Errorf("reader: count %d, %v", n, err)
	}
	if _, err := reader.Exec(ctx, "INSERT INTO orders (note) VALUES ('no')"); sqlCode(err) != "42501" {
		t.Errorf("reader INSERT: %v, want permission denied", err)
	}
	if _, err := reader.Exec(ctx, "CREATE TABLE nope (id int)"); sqlCode(err) != "42501" {
		t.Errorf("reader CREATE TABLE: %v, want permission denied", err)
	}
	billing := e.mustLogin(b.Username, b.Database)
	exec(t, billing, "CREATE TABLE invoices (id int)")

	// No application can connect to another application's database.
	for _, c := range []struct{ user, db string }{{a.Username, b.Database}, {b.Username, a.Database}, {r.Username, b.Database}} {
		if _, err := e.login(c.user, e.pws[c.user], c.db); sqlCode(err) != "42501" {
			t.Errorf("%s into %s: %v, want permission denied", c.user, c.db, err)
		}
	}

	// Rerun: no DDL, no secret value read, everything unchanged.
	reads := e.store.Reads()
	from = e.logOffset()
	rep = e.run(e.opts(entries))
	if ddl := e.ddlSince(from); len(ddl) != 0 || rep.DDL != 0 {
		t.Errorf("rerun sent DDL (report %d):\n%s", rep.DDL, strings.Join(ddl, "\n"))
	}
	if got := e.store.Reads() - reads; got != 1 {
		t.Errorf("rerun read %d secret values, want 1 (the master's; no application secret)", got)
	}
	for _, res := range rep.Results {
		if res.Outcome != Unchanged {
			t.Errorf("rerun %s: %s %v", res.Key, res.Outcome, res.Changes)
		}
	}
	for _, row := range rep.Rows {
		if row.Status != audit.NoChange {
			t.Errorf("rerun audit row %+v", row)
		}
	}

	// Tables created since are covered: VerifyGrants finds nothing to do
	// for the reader (default privileges) and the run stays DDL-free.
	o := e.opts(entries)
	o.VerifyGrants = true
	from = e.logOffset()
	e.run(o)
	if ddl := e.ddlSince(from); len(ddl) != 0 {
		t.Errorf("verify run sent DDL:\n%s", strings.Join(ddl, "\n"))
	}
	e.assertNoPasswordInLog()
}

// TestSecretVersionChange: a new secret version resets exactly that role's
// password, and the old password stops working.
func TestSecretVersionChange(t *testing.T) {
	e := newTestEnv(t)
	entries := e.owners(3)
	e.run(e.opts(entries))
	old := e.pws[entries[1].Username]
	e.setPassword(entries[1], "rotated-"+randHex(10))

	from := e.logOffset()
	rep := e.run(e.opts(entries))
	ddl := e.ddlSince(from)
	if len(ddl) != 2 {
		t.Fatalf("rotation sent %d DDL, want 2 (ALTER ROLE, COMMENT):\n%s", len(ddl), strings.Join(ddl, "\n"))
	}
	for _, s := range ddl {
		if !strings.Contains(s, `"`+entries[1].Username+`"`) {
			t.Errorf("statement touches another role: %s", s)
		}
	}
	for i, res := range rep.Results {
		want := Unchanged
		if i == 1 {
			want = Updated
		}
		if res.Outcome != want {
			t.Errorf("%s: %s, want %s", res.Key, res.Outcome, want)
		}
	}
	e.mustLogin(entries[1].Username, entries[1].Database)
	if _, err := e.login(entries[1].Username, old, entries[1].Database); err == nil {
		t.Error("the old password still works")
	}
	e.pws["old"] = old
	e.assertNoPasswordInLog()
}

// TestBlockers: a database owned by another role and a role rdsbot does not
// manage block with a clear error; with fail-fast nothing at all changes.
func TestBlockers(t *testing.T) {
	e := newTestEnv(t)
	ctx := ctxT(t)
	good := e.entry("good", "good", "good_app", Owner)
	foreign := e.entry("foreign", "foreign", "foreign_app", Owner)
	unmanaged := e.entry("unmanaged", "unmanaged", "unmanaged_app", Owner)
	su := e.super("postgres")
	exec(t, su, fmt.Sprintf("CREATE ROLE %s", ident(e.prefix+"_someone")))
	exec(t, su, fmt.Sprintf("CREATE DATABASE %s OWNER %s", ident(foreign.Database), ident(e.prefix+"_someone")))
	exec(t, su, fmt.Sprintf("CREATE ROLE %s LOGIN", ident(unmanaged.Username)))

	from := e.logOffset()
	rep, err := Run(ctx, e.opts([]Entry{good, foreign, unmanaged}))
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("Run: %v, want ErrBlocked", err)
	}
	msg := err.Error()
	for _, want := range []string{"database " + foreign.Database + " exists and is owned by " + e.prefix + "_someone", "role " + unmanaged.Username + " exists and is not managed by rdsbot"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if ddl := e.ddlSince(from); len(ddl) != 0 {
		t.Errorf("a blocked fail-fast run sent DDL:\n%s", strings.Join(ddl, "\n"))
	}
	outcomes := map[string]Outcome{}
	for _, r := range rep.Results {
		outcomes[r.Key] = r.Outcome
	}
	if outcomes[good.Key] != Skipped || outcomes[foreign.Key] != Blocked || outcomes[unmanaged.Key] != Blocked {
		t.Errorf("outcomes %v", outcomes)
	}

	// Continue on error: the good entry goes ahead, the blocked stay blocked.
	o := e.opts([]Entry{good, foreign, unmanaged})
	o.ContinueOnError = true
	rep, err = Run(ctx, o)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("Run: %v", err)
	}
	e.mustLogin(good.Username, good.Database)
	var owner string
	if err := su.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", foreign.Database).Scan(&owner); err != nil || owner != e.prefix+"_someone" {
		t.Errorf("foreign database owner %s, %v", owner, err)
	}
	var comment *string
	_ = su.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", unmanaged.Username).Scan(&comment)
	if comment != nil {
		t.Errorf("the unmanaged role was marked: %q", *comment)
	}

	// Adopting the role takes it over.
	o = e.opts([]Entry{unmanaged})
	o.Adopt = []string{unmanaged.Username}
	e.run(o)
	e.mustLogin(unmanaged.Username, unmanaged.Database)
	_ = rep
}

// TestKilledMidRun: a run whose connections are terminated part-way fails;
// a rerun reaches the same end state as a clean run.
func TestKilledMidRun(t *testing.T) {
	for _, step := range []string{"roles", "create_database", "database_acl", "in_database"} {
		t.Run(step, func(t *testing.T) {
			clean := newTestEnv(t)
			cleanEntries := append(clean.owners(2), clean.entry("r", "db1", "reader", Reader))
			clean.run(clean.opts(cleanEntries))
			want := clean.snapshot(cleanEntries)

			e := clean.sibling() // same master: the snapshots compare its grants too
			entries := append(e.owners(2), e.entry("r", "db1", "reader", Reader))
			o := e.opts(entries)
			o.Parallel = 1
			su := e.super("postgres")
			killed := false
			o.hooks = &hooks{afterStep: func(s, db string) {
				if s == step && db == entries[1].Database && !killed {
					killed = true
					exec(t, su, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", e.m.User)
				}
			}}
			if _, err := Run(ctxT(t), o); err == nil {
				t.Fatal("the killed run succeeded")
			}
			if !killed {
				t.Fatal("the hook never ran")
			}
			o.hooks = nil
			e.run(o)
			got := e.snapshot(entries)
			t.Logf("end state:\n%s", strings.Join(got, "\n"))
			if !slices.Equal(got, want) {
				t.Errorf("end state after kill and rerun differs from a clean run:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			e.mustLogin(entries[1].Username, entries[1].Database)
			e.mustLogin(entries[2].Username, entries[1].Database)
		})
	}
}

// TestParallelOverlappingRuns: ten runs over overlapping entries at once
// all succeed (advisory locks, 42710/42P04 handling), and a rerun of all
// entries afterwards sends no DDL.
func TestParallelOverlappingRuns(t *testing.T) {
	e := newTestEnv(t)
	owners := e.owners(6)
	reader := e.entry("r", "db0", "reader", Reader)
	ctx := ctxT(t)
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			window := []Entry{owners[0], reader, owners[1+i%5], owners[1+(i+1)%5], owners[1+(i+2)%5]}
			o := e.opts(window)
			o.RunID = fmt.Sprintf("run-%d", i)
			o.Parallel = 3
			_, err := Run(ctx, o)
			errs <- err
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Errorf("parallel run: %v", err)
		}
	}
	all := append(slices.Clone(owners), reader)
	from := e.logOffset()
	e.run(e.opts(all))
	if ddl := e.ddlSince(from); len(ddl) != 0 {
		t.Errorf("rerun after the parallel runs sent DDL:\n%s", strings.Join(ddl, "\n"))
	}
	for _, en := range owners {
		e.mustLogin(en.Username, en.Database)
	}
	e.mustLogin(reader.Username, reader.Database)
}

func TestDecommission(t *testing.T) {
	e := newTestEnv(t)
	ctx := ctxT(t)
	entries := e.owners(2)
	e.run(e.opts(entries))
	gone := entries[0]
	session := e.mustLogin(gone.Username, gone.Database)

	rep, err := Decommission(ctx, e.opts([]Entry{gone}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results[0].Outcome != Decommissioned || rep.Rows[0].Action != audit.Decommission || rep.Rows[0].Status != audit.Success {
		t.Errorf("report %+v %+v", rep.Results, rep.Rows)
	}
	if err := session.Ping(ctx); err == nil {
		t.Error("the decommissioned role's open session survived")
	}
	if _, err := e.login(gone.Username, e.pws[gone.Username], gone.Database); err == nil {
		t.Error("the decommissioned role can still log in")
	}
	su := e.super("postgres")
	var exists, canConnect bool
	var comment string
	if err := su.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1),
		has_database_privilege($2, $1, 'CONNECT'), shobj_description((SELECT oid FROM pg_roles WHERE rolname = $2), 'pg_authid')`,
		gone.Database, gone.Username).Scan(&exists, &canConnect, &comment); err != nil {
		t.Fatal(err)
	}
	if !exists || canConnect || !strings.Contains(comment, "state=decommissioned") {
		t.Errorf("database kept %v, CONNECT %v, comment %q", exists, canConnect, comment)
	}
	e.mustLogin(entries[1].Username, entries[1].Database)

	// Again: nothing to do.
	from := e.logOffset()
	rep, err = Decommission(ctx, e.opts([]Entry{gone}))
	if err != nil || rep.Rows[0].Status != audit.NoChange {
		t.Errorf("second decommission: %v %+v", err, rep.Rows)
	}
	if ddl := e.ddlSince(from); len(ddl) != 0 {
		t.Errorf("second decommission sent DDL: %v", ddl)
	}

	// Provisioning the entry again brings the role back.
	rep = e.run(e.opts(entries))
	if rep.Results[0].Outcome != Updated {
		t.Errorf("re-provision: %+v", rep.Results[0])
	}
	e.mustLogin(gone.Username, gone.Database)

	// An unmanaged role is not decommissioned.
	exec(t, su, "CREATE ROLE "+ident(e.prefix+"_stranger")+" LOGIN")
	if _, err := Decommission(ctx, e.opts([]Entry{{Database: gone.Database, Username: e.prefix + "_stranger"}})); !errors.Is(err, ErrBlocked) {
		t.Errorf("decommission of an unmanaged role: %v", err)
	}
}

func TestApprovalRequired(t *testing.T) {
	o := Options{Environment: "prod", Entries: []Entry{{Key: "orders", Database: "orders", Username: "orders_app", Access: Owner}}, Secrets: nil}
	if _, err := Run(context.Background(), o); !errors.Is(err, ErrInvalid) {
		t.Errorf("without a store: %v", err)
	}
	o.Secrets = newTestStoreWithoutMaster()
	_, err := Run(context.Background(), o)
	if !errors.Is(err, ErrApprovalRequired) {
		t.Fatalf("prod without approval: %v", err)
	}
	if _, err := Decommission(context.Background(), o); !errors.Is(err, ErrApprovalRequired) {
		t.Errorf("decommission in prod without approval: %v", err)
	}
	o.DryRun = true
	if _, err := Run(context.Background(), o); err != nil {
		t.Errorf("dry run in prod: %v", err)
	}
}

func TestGenerateMissingSecret(t *testing.T) {
	e := newTestEnv(t)
	en := Entry{Key: e.prefix + "gen", Database: e.prefix + "_gen", Username: e.prefix + "_gen_app", Access: Owner, CreateDB: true}
	o := e.opts([]Entry{en})
	if _, err := Run(ctxT(t), o); err == nil || !strings.Contains(err.Error(), SecretPath("goldenpath", "dev", en.Key)) {
		t.Fatalf("missing secret: %v, want an error naming the path", err)
	}
	o.GenerateMissing = true
	e.run(o)
	s, err := e.store.Get(context.Background(), SecretPath("goldenpath", "dev", en.Key))
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreds(t, s.Value)
	if c.Username != en.Username || c.DBName != en.Database || c.Host != e.m.Host || c.Port != e.m.Port || c.Engine != "postgres" || len(c.Password) != 32 {
		t.Errorf("generated secret %v", c)
	}
	e.pws[en.Username] = c.Password
	e.mustLogin(en.Username, en.Database)
	e.assertNoPasswordInLog()
}
