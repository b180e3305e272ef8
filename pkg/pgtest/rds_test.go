package pgtest_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

func masterURL(m pgtest.RDSMaster, password, sslmode string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(m.User, password), Host: fmt.Sprintf("%s:%d", m.Host, m.Port), Path: "/" + m.Database}
	q := url.Values{"sslmode": {sslmode}}
	if sslmode == "verify-full" {
		q.Set("sslrootcert", m.CAFile)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestSharedRDS(t *testing.T) {
	c := pgtest.SharedRDS(t)
	m := c.NewRDSMaster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, masterURL(m, m.Password, "verify-full"))
	if err != nil {
		t.Fatalf("master over verify-full TLS: %v", err)
	}
	defer conn.Close(context.Background())
	var super, createrole, createdb bool
	var ssl bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &createrole, &createdb, &ssl); err != nil {
		t.Fatal(err)
	}
	if super || !createrole || !createdb || !ssl {
		t.Errorf("master: super=%v createrole=%v createdb=%v ssl=%v", super, createrole, createdb, ssl)
	}
	if _, err := conn.Exec(ctx, "SELECT 'pgtest-marker-statement'"); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, masterURL(m, m.Password, "disable")); err == nil {
		t.Error("a non-TLS login was accepted")
	}
	if _, err := pgx.Connect(ctx, masterURL(m, "wrong", "require")); err == nil {
		t.Error("a wrong password was accepted")
	}

	stmts, _, err := c.LogStatements(0, m.User)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range stmts {
		found = found || strings.Contains(s.SQL, "pgtest-marker-statement") && s.Database == m.Database
	}
	if !found {
		t.Errorf("the master's statement is not in the log: %+v", stmts)
	}
	log, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), m.Password) {
		t.Error("the master's password is in the server log")
	}
}
