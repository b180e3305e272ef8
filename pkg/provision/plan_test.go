package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
)

var update = flag.Bool("update", false, "rewrite golden files")

func shown(stmts []stmt) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.Shown
	}
	return out
}

func TestPlanRole(t *testing.T) {
	pg15 := serverInfo{Version: 150020, Admin: "master"}
	pg16 := serverInfo{Version: 160004, Admin: "master"}
	mark := roleMark{Secret: "goldenpath/dev/orders/postgres", Version: "v2", State: stateActive}
	want := wantRole{Name: "orders_app", CreateDB: true, Mark: mark}
	cases := []struct {
		name     string
		cur      roleState
		srv      serverInfo
		verifier string
		want     []string
	}{
		{"new on 15", roleState{}, pg15, "SCRAM-SHA-256$x", []string{
			`CREATE ROLE "orders_app" WITH LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '<redacted>'`,
			`GRANT "orders_app" TO CURRENT_USER`,
			`COMMENT ON ROLE "orders_app" IS 'rdsbot: managed role; secret=goldenpath/dev/orders/postgres; version=v2; state=active'`,
		}},
		{"new on 16 needs SET and INHERIT", roleState{}, pg16, "SCRAM-SHA-256$x", []string{
			`CREATE ROLE "orders_app" WITH LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '<redacted>'`,
			`GRANT "orders_app" TO CURRENT_USER WITH INHERIT TRUE, SET TRUE`,
			`COMMENT ON ROLE "orders_app" IS 'rdsbot: managed role; secret=goldenpath/dev/orders/postgres; version=v2; state=active'`,
		}},
		{"up to date", roleState{Exists: true, Login: true, CreateDB: true, AdminMember: true, Comment: mark.String()}, pg15, "", nil},
		{"new version", roleState{Exists: true, Login: true, CreateDB: true, AdminMember: true,
			Comment: roleMark{Secret: mark.Secret, Version: "v1", State: stateActive}.String()}, pg15, "SCRAM-SHA-256$x", []string{
			`ALTER ROLE "orders_app" PASSWORD '<redacted>'`,
			`COMMENT ON ROLE "orders_app" IS 'rdsbot: managed role; secret=goldenpath/dev/orders/postgres; version=v2; state=active'`,
		}},
		// ALTER ROLE never names SUPERUSER, REPLICATION or BYPASSRLS: on 15
		// even NOSUPERUSER needs a superuser.
		{"drifted attributes", roleState{Exists: true, Login: false, CreateDB: false, CreateRole: true, AdminMember: false, Comment: mark.String()}, pg15, "", []string{
			`ALTER ROLE "orders_app" WITH LOGIN CREATEDB NOCREATEROLE`,
			`GRANT "orders_app" TO CURRENT_USER`,
		}},
		{"superuser admin needs no membership", roleState{}, serverInfo{Version: 150000, Admin: "postgres", Super: true}, "v", []string{
			`CREATE ROLE "orders_app" WITH LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '<redacted>'`,
			`COMMENT ON ROLE "orders_app" IS 'rdsbot: managed role; secret=goldenpath/dev/orders/postgres; version=v2; state=active'`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts, _ := planRole(want, c.cur, c.srv, c.verifier)
			got := shown(stmts)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for _, s := range stmts {
				if strings.HasPrefix(s.SQL, "ALTER ROLE") && regexp.MustCompile(`SUPERUSER|REPLICATION|BYPASSRLS`).MatchString(s.SQL) {
					t.Errorf("ALTER ROLE names a superuser-only attribute: %s", s.SQL)
				}
				if c.verifier != "" && strings.Contains(s.SQL, "PASSWORD") && !strings.Contains(s.SQL, c.verifier) {
					t.Errorf("the verifier is not sent: %s", s.SQL)
				}
			}
		})
	}
}

func TestRoleBlockers(t *testing.T) {
	srv := serverInfo{Version: 150000, Admin: "master"}
	secret := "goldenpath/dev/orders/postgres"
	managed := roleMark{Secret: secret, Version: "v", State: stateActive}.String()
	cases := []struct {
		name  string
		role  string
		cur   roleState
		adopt bool
		want  string
	}{
		{"absent", "orders_app", roleState{}, false, ""},
		{"managed", "orders_app", roleState{Exists: true, Comment: managed}, false, ""},
		{"unmarked", "orders_app", roleState{Exists: true, Comment: "made by hand"}, false, "not managed by rdsbot"},
		{"unmarked adopted", "orders_app", roleState{Exists: true}, true, ""},
		{"other secret", "orders_app", roleState{Exists: true, Comment: roleMark{Secret: "goldenpath/prod/orders/postgres"}.String()}, false, "managed for secret goldenpath/prod/orders/postgres"},
		{"superuser", "orders_app", roleState{Exists: true, Super: true, Comment: managed}, true, "SUPERUSER"},
		{"the admin itself", "master", roleState{Exists: true}, true, "master user"},
	}
	for _, c := range cases {
		err := roleBlocker(c.role, c.cur, secret, c.adopt, srv)
		if (c.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBlocked))) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestPlanDatabaseACL(t *testing.T) {
	grants := []grantSpec{{"orders_app", Owner}, {"orders_reader", Reader}}
	cases := []struct {
		name string
		cur  dbState
		want []string
	}{
		{"fresh", dbState{Exists: true, Owner: "orders_app", DefaultACL: true, PublicAccess: true}, []string{
			`REVOKE ALL ON DATABASE "orders" FROM PUBLIC`, `GRANT CONNECT ON DATABASE "orders" TO "orders_reader"`}},
		{"done", dbState{Exists: true, Owner: "orders_app", Connect: []string{"orders_app", "orders_reader"}}, nil},
		{"owner lost CONNECT, PUBLIC granted", dbState{Exists: true, Owner: "orders_app", PublicAccess: true, Connect: []string{"orders_reader"}}, []string{
			`REVOKE ALL ON DATABASE "orders" FROM PUBLIC`, `GRANT CONNECT ON DATABASE "orders" TO "orders_app"`}},
	}
	for _, c := range cases {
		stmts, _ := planDatabaseACL("orders", c.cur, grants)
		if got := shown(stmts); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n%s", c.name, strings.Join(got, "\n"))
		}
	}
}

func TestPlanInDBWarnsAndSkipsWhatItCannotGrant(t *testing.T) {
	srv := serverInfo{Version: 170000, Admin: "master"}
	grants := []grantSpec{{"orders_app", Owner}, {"orders_reader", Reader}}
	st := freshInDB(grants)
	st.Gaps["orders_reader"] = relGap{Tables: 2, Ungrantable: []string{"legacy"}}
	stmts, changes, warnings := planInDB(st, srv, "orders_app", grants)
	all := strings.Join(shown(stmts), "\n")
	if !strings.Contains(all, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO "orders_reader"`) ||
		!strings.Contains(all, "MAINTAIN") { // 17+: the owner's ALL includes MAINTAIN
		t.Errorf("statements:\n%s", all)
	}
	if len(warnings["orders_reader"]) != 1 || !strings.Contains(warnings["orders_reader"][0], "legacy") || len(changes["orders_reader"]) == 0 {
		t.Errorf("changes %v warnings %v", changes, warnings)
	}
	_, _, w := planInDB(inDBState{}, srv, "orders_app", grants)
	if len(w["orders_app"]) != 1 {
		t.Errorf("a missing schema public is not a warning: %v", w)
	}
}

// TestDryRunGolden: the statements and audit rows of a dry run for the
// example repository's coupled test environment.
func TestDryRunGolden(t *testing.T) {
	src, err := ResolveSource(rdsbot.Example(), config.Default(), "test", ModeAuto)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := LoadEntries(rdsbot.Example(), src)
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, Entry{Key: "keycloak_ro", Database: "keycloak", Username: "keycloak_reader", Access: Reader})
	fixed := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	rep, err := Run(context.Background(), Options{Environment: "test", Entries: entries, DryRun: true, BuildID: "b1", RunID: "r1",
		Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# source %s (%s)\n", src.Path, src.Mode)
	for _, s := range rep.Statements {
		fmt.Fprintf(&b, "%s: %s\n", s.Database, s.SQL)
	}
	b.WriteString(audit.Header + "\n")
	if err := audit.Encode(&b, rep.Rows); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "dryrun_test.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("dry run differs from %s (run with -update):\n%s", golden, b.String())
	}
	if rep.DDL != 0 {
		t.Errorf("a dry run counts %d DDL", rep.DDL)
	}
}

func TestReadEntries(t *testing.T) {
	quoted := []byte(`rds_config = {
  enabled = true
  application_databases = {
    "keycloak" = {
      database_name = "keycloak"
      username      = "keycloak_app"
    }
    "orders.ro" = { database_name = "orders", username = "orders_ro", access_level = "reader", createdb = false }
    orders = { database_name = "orders", username = "orders_app" }
  }
}
`)
	got, err := ReadEntries(quoted, "envs/x/terraform.tfvars", tfvars.Path{"rds_config", "application_databases"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Key: "keycloak", Database: "keycloak", Username: "keycloak_app", Access: Owner, CreateDB: true, Line: 4},
		{Key: "orders.ro", Database: "orders", Username: "orders_ro", Access: Reader, CreateDB: false, Line: 8},
		{Key: "orders", Database: "orders", Username: "orders_app", Access: Owner, CreateDB: true, Line: 9},
	}
	for i := range want {
		want[i].File = "envs/x/terraform.tfvars"
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := ValidateEntries(got); err != nil {
		t.Errorf("ValidateEntries: %v", err)
	}

	bad := []byte(`application_databases = {
  a = { username = "a_app" }
  b = { database_name = 3, username = "b", createdb = "yes" }
  c = "nope"
}
`)
	_, err = ReadEntries(bad, "f.tfvars", tfvars.Path{"application_databases"})
	for _, want := range []string{`f.tfvars:2: entry "a": database_name is required`, `f.tfvars:3: entry "b": database_name must be a string`,
		`entry "b": createdb must be true or false`, `f.tfvars:4: entry "c": must be an object`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
}

func TestValidateEntries(t *testing.T) {
	err := ValidateEntries([]Entry{
		{Key: "a", Database: "orders", Username: "orders_app", Access: Owner},
		{Key: "b", Database: "orders", Username: "orders_app", Access: Owner},
		{Key: "c", Database: "Bad-Name", Username: "pg_monitor", Access: Owner},
		{Key: "d", Database: "lonely", Username: "lonely_ro", Access: Reader},
		{Key: "e/x", Database: "postgres", Username: "x", Access: "admin"},
		{Key: "a", Database: strings.Repeat("a", 64), Username: "robert'); drop", Access: Owner},
	})
	for _, want := range []string{
		`entry "b": username "orders_app" is also used by entry "a"`,
		`entry "b": database "orders" already has an owner entry`,
		`entry "c": database_name "Bad-Name" must match`,
		`entry "c": username "pg_monitor" is reserved`,
		`entry "d": database "lonely" has reader entries but no owner entry`,
		`entry "e/x": key must be`,
		`database_name "postgres" is reserved`,
		`access_level "admin" must be owner, editor or reader`,
		`entry "a": key is used twice`,
		`username "robert'); drop" must match`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestResolveSource(t *testing.T) {
	cfg := config.Default()
	repo := rdsbot.Example()
	if s, err := ResolveSource(repo, cfg, "test", ModeAuto); err != nil || s.Mode != ModeCoupled || s.Path != "envs/test/terraform.tfvars" {
		t.Errorf("test auto: %+v %v", s, err)
	}
	if s, err := ResolveSource(repo, cfg, "dev", ModeAuto); err != nil || s.Mode != ModeStandalone || s.Path != "envs/dev-rds/terraform.tfvars" {
		t.Errorf("dev auto: %+v %v", s, err)
	}
	if _, err := ResolveSource(repo, cfg, "dev", ModeCoupled); err == nil || !strings.Contains(err.Error(), "rds_config.enabled is not true") {
		t.Errorf("dev coupled: %v", err)
	}
	if _, err := ResolveSource(repo, cfg, "moon", ModeAuto); err == nil || !strings.Contains(err.Error(), "unable to detect") {
		t.Errorf("unknown env: %v", err)
	}
	if _, err := ResolveSource(repo, cfg, "../etc", ModeAuto); !errors.Is(err, ErrInvalid) {
		t.Errorf("path in env: %v", err)
	}
	eph := fstest.MapFS{"envs/e/terraform.tfvars": {Data: []byte("cluster_lifecycle = \"ephemeral\"\nrds_config = { enabled = true }\n")}}
	if _, err := ResolveSource(eph, cfg, "e", ModeAuto); err == nil || !strings.Contains(err.Error(), "ephemeral") {
		t.Errorf("ephemeral coupled: %v", err)
	}
	for _, env := range []string{"dev", "test", "staging", "prod"} {
		s, err := ResolveSource(repo, cfg, env, ModeAuto)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadEntries(repo, s); err != nil {
			t.Errorf("%s: %v", env, err)
		}
	}
}

// TestScramMatchesServer: for passwords the server hashes itself, our
// verifier with the server's salt and iteration count is byte for byte the
// one PostgreSQL stored.
func TestScramMatchesServer(t *testing.T) {
	e := newTestEnv(t)
	su := e.super("postgres")
	exec(t, su, "SET log_statement = 'none'")
	for i, pw := range []string{"pencil", `with 'quotes' and \backslash`, " spaces  inside ", strings.Repeat("Long1", 40)} {
		role := fmt.Sprintf("%s_scram%d", e.prefix, i)
		exec(t, su, fmt.Sprintf("CREATE ROLE %s PASSWORD %s", ident(role), literal(pw)))
		var stored string
		if err := su.QueryRow(ctxT(t), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$`).FindStringSubmatch(stored)
		if m == nil {
			t.Fatalf("server verifier %q", stored)
		}
		iter, _ := strconv.Atoi(m[1])
		salt, _ := base64.StdEncoding.DecodeString(m[2])
		ours, err := scramVerifier(pw, salt, iter)
		if err != nil || ours != stored {
			t.Errorf("password %d: ours %s, server %s (%v)", i, ours, stored, err)
		}
	}
}

// TestConnectRetriesUntilTheServerListens: connection refused is retried
// with backoff; the run succeeds once something listens.
func TestConnectRetriesUntilTheServerListens(t *testing.T) {
	e := newTestEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // refused until the proxy below starts
	listening := make(chan net.Listener, 1)
	t.Cleanup(func() {
		select {
		case l := <-listening:
			l.Close()
		default:
		}
	})
	go func() {
		time.Sleep(1200 * time.Millisecond)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return
		}
		listening <- l
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go proxy(c, fmt.Sprintf("127.0.0.1:%d", e.m.Port))
		}
	}()
	o := e.opts(e.owners(1))
	o.Admin.Port = port
	o.Admin.RetryFor = 30 * time.Second
	e.run(o)

	// A refusal that will not change (a wrong CA) is not retried.
	o.Admin.RootCAFile = writeTempCA(t)
	var logs strings.Builder
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := Run(ctxT(t), o); err == nil {
		t.Error("a wrong CA was accepted")
	}
	if strings.Contains(logs.String(), "retrying") {
		t.Errorf("a TLS failure was retried:\n%s", logs.String())
	}
}

func proxy(c net.Conn, to string) {
	defer c.Close()
	up, err := net.Dial("tcp", to)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// writeTempCA writes a CA certificate that signed nothing the server uses.
func writeTempCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "unrelated CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
