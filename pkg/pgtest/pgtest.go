package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// shared is the cluster New uses when DATABASE_URL is unset, started on first
// use and stopped by Main.
var shared struct {
	mu      sync.Mutex
	cluster *Cluster
	err     error // a failed start is remembered: every later New fails the same way
}

// Main runs the package's tests and then stops the shared cluster, if one was
// started, before exiting with the tests' status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// StopShared stops the shared cluster and the shared RDS-like cluster
// (SharedRDS), if they were started, and removes their directories. Main
// calls it; a TestMain that does more than Main can call it directly.
func StopShared() error {
	rdsErr := stopSharedRDS()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil {
		return rdsErr
	}
	err := shared.cluster.Stop()
	shared.cluster = nil
	shared.err = errors.New("pgtest: the shared cluster was stopped")
	return errors.Join(err, rdsErr)
}

// AdminURL returns the URL of a role that may create databases: DATABASE_URL
// when it is set, otherwise the "postgres" database of the shared throwaway
// cluster, which is started on the first call. The error wraps ErrNoPostgres
// when neither is possible.
func AdminURL() (string, error) {
	if env := os.Getenv("DATABASE_URL"); env != "" {
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return "", fmt.Errorf("pgtest: DATABASE_URL must be a postgres:// URL (keyword=value strings are not supported)")
		}
		return env, nil
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var logf func(string, ...any)
		if os.Getenv("PGTEST_VERBOSE") != "" {
			logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		}
		shared.cluster, shared.err = Start(ctx, Options{Logf: logf})
	}
	if shared.err != nil {
		return "", shared.err
	}
	return shared.cluster.URL("postgres"), nil
}

// New returns the URL of a new, empty database created for this test and
// dropped when it ends (see the package documentation for where the server
// comes from). Without PostgreSQL binaries the test is skipped, or failed when
// the CI environment variable is set.
func New(tb testing.TB) string {
	tb.Helper()
	admin, err := AdminURL()
	if err != nil {
		if errors.Is(err, ErrNoPostgres) && os.Getenv("CI") == "" {
			tb.Skip(err.Error())
		}
		tb.Fatal(err)
	}
	return NewDatabase(tb, admin)
}

// NewDatabase creates a uniquely named database on the server at adminURL
// (whose role must be allowed to CREATE DATABASE), drops it when the test
// ends, and returns its URL.
func NewDatabase(tb testing.TB, adminURL string) string {
	tb.Helper()
	name := databaseName(tb.Name())
	ident := pgx.Identifier{name}.Sanitize()
	if err := adminExec(adminURL, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		// FORCE ends sessions a test left open (a pool not yet closed).
		if err := adminExec(adminURL, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dbURL, err := withDatabase(adminURL, name)
	if err != nil {
		tb.Fatal(err)
	}
	return dbURL
}

func adminExec(adminURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName makes a valid, unique, recognisable database name from a test
// name: pgtest_<sanitised name>_<random>.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	return "pgtest_" + base + "_" + hex.EncodeToString(rnd[:])
}

// withDatabase returns rawURL with its database replaced by name.
func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("pgtest: parse database URL: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
