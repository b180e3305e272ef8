package pgtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres reports that no PostgreSQL server binaries (initdb, postgres)
// were found, so a throwaway cluster cannot be started.
var ErrNoPostgres = errors.New("pgtest: no PostgreSQL binaries found (set PGTEST_BINDIR, install postgresql, or set DATABASE_URL)")

// dirPrefix names the temporary directories Start creates; sweepStale only
// ever looks at directories with this prefix.
const dirPrefix = "pgtest-"

// Options configures a cluster started by Start.
type Options struct {
	// Fsync keeps the server durable (fsync, synchronous_commit and
	// full_page_writes on). By default they are off: a throwaway test cluster
	// does not need to survive a power cut, and tests run much faster.
	Fsync bool

	// Settings are extra server settings, each passed as -c name=value.
	Settings map[string]string

	// BinDir is the directory holding initdb and postgres. Empty means
	// $PGTEST_BINDIR, else the newest /usr/lib/postgresql/*/bin, else PATH.
	BinDir string

	// Logf, when set, receives a line for each step (initdb, start, stop).
	Logf func(format string, args ...any)

	// TLS turns ssl on with a certificate for 127.0.0.1 and localhost signed
	// by a throwaway CA generated in Go (Cluster.CAFile).
	TLS bool

	// PasswordAuth replaces initdb's trust-everything pg_hba.conf: the
	// superuser "postgres" stays trusted (so URL keeps working), every other
	// role must log in with SCRAM-SHA-256, and over TLS only when TLS is on.
	PasswordAuth bool
}

// Cluster is a running throwaway PostgreSQL cluster owned by this process.
type Cluster struct {
	dir     string // everything lives here: data/, the socket, postgres.log
	port    int
	logPath string
	caFile  string // with Options.TLS: the CA that signed the server certificate

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	waitErr error         // set before exited is closed

	stopOnce sync.Once
	stopErr  error
	logf     func(string, ...any)
}

// Start creates and starts a new cluster: initdb into a fresh temporary
// directory, then the postmaster on a free port of 127.0.0.1 with its Unix
// socket inside that directory. It returns once the server accepts
// connections. Stop shuts it down and removes the directory; if this process
// dies first, the server is killed by the kernel (parent-death signal) and the
// directory is removed by a later Start.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	sweepStale(logf)

	owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: temp dir: %w", err)
	}
	c := &Cluster{dir: dir, logPath: filepath.Join(dir, "postgres.log"), logf: logf}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if owner != nil {
		if err := os.Chown(dir, owner.uid, owner.gid); err != nil {
			return nil, fmt.Errorf("pgtest: chown %s to %s: %w", dir, owner.name, err)
		}
	}

	dataDir := filepath.Join(dir, "data")
	logf("pgtest: initdb %s (bin %s)", dataDir, binDir)
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	initdb.SysProcAttr = owner.sysProcAttr()
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	if err := c.configureAuth(dataDir, owner, opts); err != nil {
		return nil, err
	}

	// A free port can be taken by someone else between probing and binding;
	// try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.port = port
		if lastErr = c.startPostmaster(ctx, binDir, dataDir, owner, opts); lastErr == nil {
			ok = true
			logf("pgtest: cluster up on 127.0.0.1:%d (%s)", port, dir)
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (c *Cluster) startPostmaster(ctx context.Context, binDir, dataDir string, owner *osUser, opts Options) error {
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(c.port),
		"unix_socket_directories": c.dir,
		"max_connections":         "300",
		"logging_collector":       "off",
	}
	if !opts.Fsync {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	if opts.TLS {
		settings["ssl"] = "on"
		settings["ssl_cert_file"] = filepath.Join(c.dir, "server.crt")
		settings["ssl_key_file"] = filepath.Join(c.dir, "server.key")
	}
	for k, v := range opts.Settings {
		settings[k] = v
	}
	args := []string{"-D", dataDir}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}

	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	attr := owner.sysProcAttr()
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	// SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its
	// backends down with it. The kernel sends it when the thread that started
	// the postmaster dies, which is why that thread is locked below and kept
	// until the postmaster exits.
	attr.Pdeathsig = syscall.SIGQUIT
	// Own process group: a ^C aimed at `go test` must not reach the server
	// before Stop does its orderly shutdown.
	attr.Setpgid = true
	cmd.SysProcAttr = attr

	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the postmaster
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.cmd, c.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("pgtest: postgres exited during startup (%v):\n%s", c.waitErr, c.logTail())
		case <-ctx.Done():
			c.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if err := ping(ctx, c.URL("postgres")); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("pgtest: postgres not ready after 60s: %w\n%s", err, c.logTail())
		}
	}
}

// URL is a connection URL for database on this cluster, as the superuser
// "postgres" over TCP on 127.0.0.1.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// PID is the process id of the postmaster (its backends are its children).
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Dir is the cluster's temporary directory (data directory, socket, log).
func (c *Cluster) Dir() string { return c.dir }

// Stop shuts the server down (fast shutdown, then SIGKILL after 15 seconds)
// and removes the cluster's directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			select {
			case <-c.exited:
			default:
				_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
				select {
				case <-c.exited:
				case <-time.After(15 * time.Second):
					c.logf("pgtest: postgres did not stop in 15s, killing it")
					c.kill()
				}
			}
		}
		c.stopErr = os.RemoveAll(c.dir)
		c.logf("pgtest: cluster on port %d stopped", c.port)
	})
	return c.stopErr
}

func (c *Cluster) kill() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	// The postmaster is its own process group leader (Setpgid), so this
	// reaches the backends too.
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
	}
}

func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findBinDir picks the directory holding initdb and postgres.
func findBinDir(explicit string) (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if explicit == "" {
		explicit = os.Getenv("PGTEST_BINDIR")
	}
	if explicit != "" {
		if !has(explicit) {
			return "", fmt.Errorf("%w: %s has no initdb and postgres", ErrNoPostgres, explicit)
		}
		return explicit, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: compare the version directory numerically.
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Resolve symlinks such as /usr/local/bin/initdb -> .../15/bin/initdb
		// so that postgres is taken from the same installation.
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoPostgres
}

// osUser is the account the server runs as when this process is root.
type osUser struct {
	name     string
	uid, gid int
}

// serverUser returns nil when the current user can run the server itself, or
// the postgres system user when running as root (initdb and postgres refuse to
// run as root).
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and initdb refuses to run as root, but there is no \"postgres\" system user to run it as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgtest: user postgres: %w", err)
	}
	return &osUser{name: u.Username, uid: uid, gid: gid}, nil
}

func (u *osUser) sysProcAttr() *syscall.SysProcAttr {
	if u == nil {
		return nil
	}
	return &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), NoSetGroups: true},
	}
}

// sweepStale removes directories left by earlier Start calls whose owning
// process is gone (a test binary that was killed before it could Stop). A
// postmaster still running in such a directory is shut down first; normally
// there is none, because the parent-death signal already stopped it.
func sweepStale(logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue // not ours, or still being created
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || owner == os.Getpid() || processAlive(owner) {
			continue
		}
		if pid := postmasterPID(filepath.Join(dir, "data")); pid > 0 && processAlive(pid) && isPostmasterOf(pid, dir) {
			logf("pgtest: stopping leftover postgres %d in %s", pid, dir)
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			for i := 0; i < 100 && processAlive(pid); i++ {
				time.Sleep(50 * time.Millisecond)
			}
			if processAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		logf("pgtest: removing leftover %s", dir)
		_ = os.RemoveAll(dir)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// postmasterPID reads the first line of postmaster.pid, or 0.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// isPostmasterOf guards against PID reuse: the process must be a postgres
// whose command line names the directory.
func isPostmasterOf(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	cmdline := strings.ReplaceAll(string(b), "\x00", " ")
	return strings.Contains(cmdline, "postgres") && strings.Contains(cmdline, dir)
}
