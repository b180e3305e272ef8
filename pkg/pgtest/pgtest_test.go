package pgtest_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("PGTEST_DEATH_CHILD") != "" {
		deathChild()
		return
	}
	pgtest.Main(m)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := pgtest.Start(context.Background(), pgtest.Options{BinDir: "/nonexistent"}); !errors.Is(err, pgtest.ErrNoPostgres) {
		t.Fatalf("Start with a bad BinDir: got %v, want ErrNoPostgres", err)
	}
	if err := exec.Command("sh", "-c", "ls /usr/lib/postgresql/*/bin/initdb || command -v initdb").Run(); err != nil && os.Getenv("PGTEST_BINDIR") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no initdb on this machine")
		}
		t.Skip("no initdb on this machine")
	}
}

func TestNewGivesEachTestItsOwnEmptyDatabase(t *testing.T) {
	var names []string
	var admin string
	for i := range 2 {
		t.Run("db"+strconv.Itoa(i), func(t *testing.T) {
			dsn := pgtest.New(t)
			conn := connect(t, dsn)
			names = append(names, queryString(t, conn, "SELECT current_database()"))
			// Empty: no user tables.
			if n := queryString(t, conn, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"); n != "0" {
				t.Fatalf("new database has %s tables", n)
			}
			if _, err := conn.Exec(context.Background(), "CREATE TABLE t (id int PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			var err error
			if admin, err = pgtest.AdminURL(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %q: want two distinct names", names)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "pgtest_testnewgiveseachtest") {
			t.Errorf("database name %q does not name the test", n)
		}
	}
	// The subtests have ended, so their databases are gone.
	conn := connect(t, admin)
	for _, n := range names {
		if got := queryString(t, conn, "SELECT count(*)::text FROM pg_database WHERE datname = $1", n); got != "0" {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
}

func TestSharedClusterIsThrowaway(t *testing.T) {
	if os.Getenv("DATABASE_URL") != "" {
		t.Skip("DATABASE_URL is set: the shared cluster is not used")
	}
	conn := connect(t, pgtest.New(t))
	if got := queryString(t, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %s, want off in the throwaway cluster", got)
	}
	if got := queryString(t, conn, "SHOW listen_addresses"); got != "127.0.0.1" {
		t.Errorf("listen_addresses = %s", got)
	}
	dir := queryString(t, conn, "SHOW unix_socket_directories")
	if !strings.Contains(dir, "pgtest-") {
		t.Errorf("unix_socket_directories = %s, want the cluster's temp dir", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Errorf("data directory not inside the socket dir: %v", err)
	}
}

func TestStartOwnDurableClusterAndStop(t *testing.T) {
	requireBinaries(t)
	c, err := pgtest.Start(context.Background(), pgtest.Options{Fsync: true, Settings: map[string]string{"application_name": "pgtest-own"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	conn := connect(t, c.URL("postgres"))
	for setting, want := range map[string]string{"fsync": "on", "synchronous_commit": "on", "application_name": "pgtest-own"} {
		if got := queryString(t, conn, "SHOW "+setting); got != want {
			t.Errorf("%s = %s, want %s", setting, got, want)
		}
	}
	if os.Geteuid() == 0 {
		if got := queryString(t, conn, "SELECT pg_catalog.current_setting('data_directory')"); !strings.HasPrefix(got, c.Dir()) {
			t.Errorf("data_directory %s outside %s", got, c.Dir())
		}
		fi, err := os.Stat(filepath.Join(c.Dir(), "data"))
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
			t.Errorf("data directory owned by root; initdb must run as postgres")
		}
	}
	conn.Close(context.Background())

	pidFile := filepath.Join(c.Dir(), "data", "postmaster.pid")
	pid := readPID(t, pidFile)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("postmaster %d still running after Stop", pid)
	}
	if _, err := os.Stat(c.Dir()); !os.IsNotExist(err) {
		t.Errorf("cluster dir %s not removed: %v", c.Dir(), err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestServerDiesWithTestBinary starts a cluster in a child process (this test
// binary re-executed), SIGKILLs the child so that no cleanup code runs, and
// checks that the postmaster goes down with it and that the next Start
// removes the leftover directory.
func TestServerDiesWithTestBinary(t *testing.T) {
	requireBinaries(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGTEST_DEATH_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("child did not report its cluster: %v", err)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(line, "cluster "))
	pid := readPID(t, filepath.Join(dir, "data", "postmaster.pid"))
	if !alive(pid) {
		t.Fatalf("postmaster %d not running", pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("postmaster %d survived its SIGKILLed parent", pid)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("expected the dead child's dir %s to be left behind: %v", dir, err)
	}

	c, err := pgtest.Start(context.Background(), pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("leftover %s not swept by Start: %v", dir, err)
	}
}

// deathChild is the child side of TestServerDiesWithTestBinary: start a
// cluster, report it, and wait to be killed.
func deathChild() {
	c, err := pgtest.Start(context.Background(), pgtest.Options{})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("cluster " + c.Dir() + "\n")
	time.Sleep(5 * time.Minute)
	os.Exit(1)
}

func TestNewDatabaseNames(t *testing.T) {
	valid := regexp.MustCompile(`^pgtest_[a-z0-9_]{1,40}_[0-9a-f]{10}$`)
	for _, name := range []string{
		"TestX",
		"TestX/sub test with spaces/and \"quotes\"",
		strings.Repeat("TestVeryLong", 20),
		"Test/ünïcödé",
	} {
		t.Run(name, func(t *testing.T) {
			dsn := pgtest.New(t)
			conn := connect(t, dsn)
			db := queryString(t, conn, "SELECT current_database()")
			if !valid.MatchString(db) || len(db) > 63 {
				t.Errorf("database name %q for %q", db, name)
			}
		})
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie is dead for our purposes.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) < 3 || fields[2] != "Z"
}
