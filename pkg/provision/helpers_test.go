package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testEnv is an RDS-like server (TLS, SCRAM, statement log) with a master
// role of its own, a secret store holding its master secret, and a name
// prefix no other test uses.
type testEnv struct {
	t      *testing.T
	c      *pgtest.Cluster
	m      pgtest.RDSMaster
	store  *secrets.Memory
	prefix string
	sink   *audit.Memory
	pws    map[string]string // username -> current password
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	c := pgtest.SharedRDS(t)
	m := c.NewRDSMaster(t)
	store := secrets.NewMemory()
	master := secrets.Credentials{Username: m.User, Password: m.Password, Host: m.Host, Port: m.Port, DBName: m.Database, Engine: "postgres"}
	if _, err := store.Create(context.Background(), MasterSecretPath("goldenpath", "dev"), master.JSON(), secrets.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, c: c, m: m, store: store, prefix: "t" + randHex(4), sink: &audit.Memory{}, pws: map[string]string{}}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// owners makes n owner entries named <prefix>_db<i> / <prefix>_app<i>, with
// their secrets.
func (e *testEnv) owners(n int) []Entry {
	var out []Entry
	for i := range n {
		out = append(out, e.entry(fmt.Sprintf("k%d", i), fmt.Sprintf("db%d", i), fmt.Sprintf("app%d", i), Owner))
	}
	return out
}

// entry makes one entry with names under the prefix and stores its secret.
func (e *testEnv) entry(key, db, user string, access Access) Entry {
	en := Entry{Key: e.prefix + key, Database: e.prefix + "_" + db, Username: e.prefix + "_" + user, Access: access, CreateDB: true}
	e.setPassword(en, "pw-"+randHex(12))
	return en
}

// setPassword creates or updates the entry's secret.
func (e *testEnv) setPassword(en Entry, pw string) {
	e.t.Helper()
	c := secrets.Credentials{Username: en.Username, Password: pw, Host: e.m.Host, Port: e.m.Port, DBName: en.Database, Engine: "postgres"}
	path := SecretPath("goldenpath", "dev", en.Key)
	var err error
	if _, ok := e.pws[en.Username]; ok {
		_, err = e.store.Put(context.Background(), path, c.JSON())
	} else {
		_, err = e.store.Create(context.Background(), path, c.JSON(), secrets.CreateOptions{})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.pws[en.Username] = pw
}

func (e *testEnv) opts(entries []Entry) Options {
	return Options{
		Environment: "dev", Entries: entries, Secrets: e.store,
		Admin:   Admin{SSLMode: "verify-full", RootCAFile: e.m.CAFile, RetryFor: -1},
		BuildID: "test", RunID: e.t.Name(), Audit: e.sink,
	}
}

func (e *testEnv) run(o Options) *Report {
	e.t.Helper()
	r, err := Run(ctxT(e.t), o)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return r
}

func (e *testEnv) logOffset() int64 {
	_, end, err := e.c.ReadLog(0)
	if err != nil {
		e.t.Fatal(err)
	}
	return end
}

var ddlRE = regexp.MustCompile(`(?i)^\s*(CREATE|ALTER|GRANT|REVOKE|COMMENT|DROP)\b`)

// ddlSince returns the DDL the master sent since the log offset, read from
// the server's own statement log.
func (e *testEnv) ddlSince(from int64) []string {
	e.t.Helper()
	stmts, _, err := e.c.LogStatements(from, e.m.User)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, s := range stmts {
		if ddlRE.MatchString(s.SQL) {
			out = append(out, s.SQL)
		}
	}
	return out
}

// assertNoPasswordInLog checks the whole server log for every password
// the test used, the master's included.
func (e *testEnv) assertNoPasswordInLog() {
	e.t.Helper()
	b, err := os.ReadFile(e.c.LogPath())
	if err != nil {
		e.t.Fatal(err)
	}
	for user, pw := range e.pws {
		if strings.Contains(string(b), pw) {
			e.t.Errorf("the password of %s is in the server log", user)
		}
	}
	if strings.Contains(string(b), e.m.Password) {
		e.t.Error("the master password is in the server log")
	}
}

// super is a superuser connection for checks.
func (e *testEnv) super(db string) *pgx.Conn {
	e.t.Helper()
	u, _ := url.Parse(e.c.URL(db))
	conn, err := pgx.Connect(ctxT(e.t), u.String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// login connects as an application user over TLS (verify-full).
func (e *testEnv) login(user, password, db string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("%s:%d", e.m.Host, e.m.Port), Path: "/" + db,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {e.m.CAFile}}.Encode()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err == nil {
		e.t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

func (e *testEnv) mustLogin(user, db string) *pgx.Conn {
	e.t.Helper()
	conn, err := e.login(user, e.pws[user], db)
	if err != nil {
		e.t.Fatalf("login as %s to %s: %v", user, db, err)
	}
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func sqlCode(err error) string { return sqlState(err) }

// snapshot reads, as the superuser, what provisioning leaves behind for the
// entries, with the prefix and the master's name replaced, so the end states
// of two runs with different names compare equal.
func (e *testEnv) snapshot(entries []Entry) []string {
	e.t.Helper()
	ctx := ctxT(e.t)
	conn := e.super("postgres")
	var lines []string
	norm := func(s string) string {
		s = strings.ReplaceAll(s, e.m.User, "MASTER")
		return strings.ReplaceAll(s, e.prefix, "P")
	}
	for _, en := range entries {
		var login, createdb, super, createrole, member bool
		var comment string
		err := conn.QueryRow(ctx, `SELECT rolcanlogin, rolcreatedb, rolsuper, rolcreaterole,
			pg_has_role($2, oid, 'MEMBER'), coalesce(shobj_description(oid, 'pg_authid'), '')
			FROM pg_roles WHERE rolname = $1`, en.Username, e.m.User).Scan(&login, &createdb, &super, &createrole, &member, &comment)
		if err != nil {
			e.t.Fatalf("role %s: %v", en.Username, err)
		}
		comment = regexp.MustCompile(`version=[^;]*`).ReplaceAllString(comment, "version=V")
		lines = append(lines, norm(fmt.Sprintf("role %s login=%v createdb=%v super=%v createrole=%v master-member=%v comment=%q",
			en.Username, login, createdb, super, createrole, member, comment)))
	}
	seen := map[string]bool{}
	for _, en := range entries {
		if seen[en.Database] {
			continue
		}
		seen[en.Database] = true
		var owner, acl, comment string
		err := conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), coalesce(datacl::text, 'NULL'), coalesce(shobj_description(oid, 'pg_database'), '')
			FROM pg_database WHERE datname = $1`, en.Database).Scan(&owner, &acl, &comment)
		if err != nil {
			e.t.Fatalf("database %s: %v", en.Database, err)
		}
		comment = regexp.MustCompile(`grants=[0-9a-f]+`).ReplaceAllString(comment, "grants=FP")
		lines = append(lines, norm(fmt.Sprintf("database %s owner=%s acl=%s comment=%q", en.Database, owner, acl, comment)))
		in := e.super(en.Database)
		rows, err := in.Query(ctx, `SELECT 'schema ' || coalesce(nspacl::text, 'NULL') FROM pg_namespace WHERE nspname = 'public'
			UNION ALL SELECT 'default ' || pg_get_userbyid(defaclrole) || ' ' || defaclobjtype::text || ' ' || defaclacl::text FROM pg_default_acl`)
		if err != nil {
			e.t.Fatal(err)
		}
		var inner []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				e.t.Fatal(err)
			}
			inner = append(inner, norm("  "+en.Database+" "+s))
		}
		if rows.Err() != nil {
			e.t.Fatal(rows.Err())
		}
		sort.Strings(inner)
		lines = append(lines, inner...)
	}
	return lines
}

// sibling shares the server, master, store and audit sink, with a new name
// prefix.
func (e *testEnv) sibling() *testEnv {
	s := *e
	s.prefix = "t" + randHex(4)
	s.pws = map[string]string{}
	return &s
}

func newTestStoreWithoutMaster() *secrets.Memory { return secrets.NewMemory() }

func mustCreds(t *testing.T, value string) secrets.Credentials {
	t.Helper()
	c, err := secrets.ParseCredentials(value)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
