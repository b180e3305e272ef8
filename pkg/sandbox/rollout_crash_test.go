package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// Crash safety of the rollout: `rdsbot serve` runs as a child process, is
// SIGKILLed while terraform apply runs or while provisioning waits on
// Postgres, and is started again on the same job store (or, with two
// replicas, the other one carries on). Every request still ends active
// exactly once: one completed apply of its merge commit, one role and one
// database, one status commit per transition, one status comment.
//
// How the tests pause the rollout:
//   - apply: the stand-in terraform's {"hang": "apply"} knob; it records
//     the call (with its pid and its provider child's) and never returns.
//     The stand-in runs in its own process group, so the test kills that
//     group too, as the restarted rdsbot cannot.
//   - provisioning: the test holds an advisory lock that the provisioner
//     takes, in the master's database, and waits until a backend waits for
//     it: the app role's (before the role is created) or the database's
//     (after the role's transaction committed, before CREATE DATABASE).
//
// A completed apply is an apply call of the stand-in that did not hang
// (no provider pid); the stand-in's state serial tells the same from the
// other side: it moves once per apply that wrote the state.

// crashCase is one way of killing rdsbot during a rollout.
type crashCase struct {
	name string
	// phase is where rdsbot dies: "apply"; "provision", before the role
	// is created; "provision-db", with the role created and the database
	// not yet.
	phase    string
	postgres bool // Postgres job store, else SQLite
	replicas int  // 1: killed and restarted; 2: one killed, the other carries on
}

func TestRolloutCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes and waits for River's rescuer")
	}
	cases := []crashCase{
		{name: "sqlite/apply", phase: "apply"},
		{name: "sqlite/provision", phase: "provision"},
		{name: "sqlite/provision-db", phase: "provision-db"},
		{name: "postgres/apply", phase: "apply", postgres: true, replicas: 1},
		{name: "postgres/provision", phase: "provision", postgres: true, replicas: 1},
		{name: "postgres/replicas/apply", phase: "apply", postgres: true, replicas: 2},
	}
	rdsbotBinary(t) // build once, before the clocks of the subtests start
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRolloutCrash(t, tc)
		})
	}
}

// crashRig is a sandbox whose rdsbot runs as child processes.
type crashRig struct {
	s     *Sandbox
	m     pgtest.RDSMaster
	store []string
	env   []string
	flags []string
}

func newCrashRig(t *testing.T, postgres bool) *crashRig {
	t.Helper()
	s, m := startRollout(t, Options{NoServer: true})
	r := &crashRig{s: s, m: m}
	if postgres {
		// A killed replica's jobs move on once it has been silent this
		// long (production's default is 30s).
		r.store = []string{"--database-url", pgtest.New(t), "--recover-after", "4s"}
	} else {
		r.store = []string{"--sqlite", filepath.Join(t.TempDir(), "jobs.db")}
	}
	missing := filepath.Join(t.TempDir(), "none")
	r.env = []string{
		"AWS_ACCESS_KEY_ID=AKIDSANDBOX", "AWS_SECRET_ACCESS_KEY=sandbox-secret",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.Rollout.SecretsURL, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + missing, "AWS_SHARED_CREDENTIALS_FILE=" + missing,
	}
	r.flags = []string{"--runner", "local", "--terraform", standinLink(t),
		"--terraform-env", "TF_STANDIN_DIR=" + s.Rollout.TerraformDir,
		"--secrets", "aws", "--region", "eu-west-2", "--sslmode", "verify-full", "--sslrootcert", m.CAFile,
		"--generate-missing", "--apply-debounce", "300ms"}
	return r
}

// standinLink links the rdsbot binary as terraform-standin: run under
// that name it is the stand-in terraform (cmd/rdsbot hands over to
// tfstandin.Main), so the child needs nothing of the test binary.
func standinLink(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "terraform-standin")
	if err := os.Symlink(rdsbotBinary(t), p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *crashRig) serve(t *testing.T, addr string) *child {
	t.Helper()
	return startServeEnv(t, r.s, addr, r.store, r.env, r.flags...)
}

// masterConn is a session of the RDS master user in its own database,
// where the provisioner takes its advisory locks.
func (r *crashRig) masterConn(t *testing.T) *pgx.Conn {
	t.Helper()
	u := url.URL{Scheme: "postgres", User: url.UserPassword(r.m.User, r.m.Password),
		Host: fmt.Sprintf("%s:%d", r.m.Host, r.m.Port), Path: "/" + r.m.Database,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {r.m.CAFile}}.Encode()}
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// lockKey is the advisory lock key the provisioner takes for a role or a
// database: FNV-64a of "rdsbot", the kind and the name, NUL-separated
// (pkg/provision's lockKey).
func lockKey(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rdsbot\x00" + kind + "\x00" + name))
	return int64(h.Sum64())
}

// failover is a load balancer in front of the replicas: each delivery
// goes to the next replica in turn, and to another when that one does not
// answer, as GitHub's single webhook URL behind a load balancer would.
func failover(t *testing.T, addrs ...string) string {
	t.Helper()
	var next atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		first := int(next.Add(1))
		for i := range addrs {
			addr := addrs[(first+i)%len(addrs)]
			out, _ := http.NewRequestWithContext(req.Context(), req.Method, "http://"+addr+req.URL.RequestURI(), bytes.NewReader(body))
			out.Header = req.Header.Clone()
			resp, err := http.DefaultClient.Do(out)
			if err != nil {
				continue // that replica is gone
			}
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
			resp.Body.Close()
			return
		}
		http.Error(w, "no replica answers", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runRolloutCrash(t *testing.T, tc crashCase) {
	r := newCrashRig(t, tc.postgres)
	s := r.s
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	db := "crash_" + hex.EncodeToString(rnd[:])
	user := db + "_app"

	// The pause.
	var lockConn *pgx.Conn
	var key int64
	switch tc.phase {
	case "apply":
		if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{Hang: "apply"}); err != nil {
			t.Fatal(err)
		}
	case "provision", "provision-db":
		key = lockKey("role", user)
		if tc.phase == "provision-db" {
			key = lockKey("database", db)
		}
		lockConn = r.masterConn(t)
		if _, err := lockConn.Exec(context.Background(), "SELECT pg_advisory_lock($1)", key); err != nil {
			t.Fatal(err)
		}
	}

	// rdsbot: one child, or two behind a load balancer.
	n := max(tc.replicas, 1)
	addrs := make([]string, n)
	children := make([]*child, n)
	for i := range n {
		addrs[i] = freePort(t)
		children[i] = r.serve(t, addrs[i])
	}
	if n == 1 {
		s.AddWebhook("http://" + addrs[0] + "/webhook")
	} else {
		s.AddWebhook(failover(t, addrs...) + "/webhook")
	}

	// The request, approved by the platform team once the check shows,
	// merged once the check passed.
	issue := openOrders(t, s, Requester, withAnswer(withAnswer(ordersAnswers, "Database name", db), "Application username", user))
	branch := "rds/test/" + db
	var pr int
	waitFor(t, 30*time.Second, "the request's pull request and its approval check", func() bool {
		for _, p := range requestPulls(s) {
			if p.Head == branch {
				pr = p.Number
				_, ok := appCheck(s, p.HeadSHA, approvalCheck)
				return ok
			}
		}
		return false
	})
	later(s)
	if _, err := s.Fake.As(Platform).Approve(s.Repo, pr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the approval check to pass", func() bool {
		c, ok := appCheck(s, pullByNumber(s, pr).HeadSHA, approvalCheck)
		return ok && c.Conclusion == "success"
	})
	if _, err := s.Fake.As(Platform).Merge(s.Repo, pr, "merge"); err != nil {
		t.Fatal(err)
	}

	// Kill the replica in the middle of the phase.
	victim := 0
	switch tc.phase {
	case "apply":
		var hung tfstandin.Call
		waitFor(t, 30*time.Second, "terraform apply to start", func() bool {
			for _, c := range applies(t, s) {
				if c.ProviderPID != 0 {
					hung = c
					return true
				}
			}
			return false
		})
		// The apply's process group outlives rdsbot: end it, as an
		// operator (or the container's end) would.
		t.Cleanup(func() { _ = syscall.Kill(-hung.PID, syscall.SIGKILL) })
		if n > 1 {
			victim = -1
			ppid := parentOf(t, hung.PID)
			for i, c := range children {
				if c.cmd.Process.Pid == ppid {
					victim = i
				}
			}
			if victim < 0 {
				t.Fatalf("the hung apply (pid %d) has parent %d, no replica", hung.PID, ppid)
			}
		}
		kill(t, children[victim])
		if err := syscall.Kill(-hung.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill the hung apply's process group: %v", err)
		}
		if err := tfstandin.WriteControl(s.Rollout.TerraformDir, tfstandin.Control{}); err != nil {
			t.Fatal(err)
		}
	case "provision", "provision-db":
		waitFor(t, 30*time.Second, "provisioning to wait for the lock", func() bool {
			var waiting int
			err := lockConn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND NOT granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting)
			if err != nil {
				t.Fatal(err)
			}
			return waiting > 0
		})
		if st := entryStatus(s, db); st != catalog.StatusProvisioning {
			t.Fatalf("waiting on the lock with the catalog at %q, want provisioning", st)
		}
		var roles int
		if err := lockConn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", user).Scan(&roles); err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"provision-db": 1}[tc.phase]; roles != want {
			t.Fatalf("%d roles %s when rdsbot is killed, want %d", roles, user, want)
		}
		kill(t, children[0])
		if _, err := lockConn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("killed replica %d during %s", victim, tc.phase)
	if n == 1 {
		r.serve(t, addrs[0])
	}

	// River hands the killed attempt on (SQLite: once the new process
	// leads; Postgres: once the dead one's lease ran out), and the
	// rollout carries on from where it stopped.
	waitFor(t, 90*time.Second, "the request to be active and its issue closed", func() bool {
		is, _ := s.Fake.Issue(s.Repo, issue)
		return entryStatus(s, db) == catalog.StatusActive && is.State == "closed"
	})
	quiet(t, s)
	checkOnce(t, r, tc, db, user, issue, pr)
}

// quiet waits until GitHub has seen nothing new for a while: anything a
// replayed step would still do shows by then.
func quiet(t *testing.T, s *Sandbox) {
	t.Helper()
	last, still := -1, 0
	waitFor(t, 30*time.Second, "GitHub to be quiet", func() bool {
		if err := s.Fake.Quiesce(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		n := len(s.Fake.Events())
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
		time.Sleep(100 * time.Millisecond)
		return still >= 10
	})
}

// checkOnce asserts that everything of the rollout happened exactly once.
func checkOnce(t *testing.T, r *crashRig, tc crashCase, db, user string, issue, pr int) {
	t.Helper()
	s := r.s
	e := catalogEntry(t, s, "test", db)
	merge := pullByNumber(s, pr).MergeCommitSHA
	seen := map[string]int{}
	for _, h := range e.Metadata.History {
		seen[string(h.Status)]++
	}
	steps := []string{"approved", "applying", "provisioning", "active"}
	for _, st := range steps {
		if seen[st] != 1 {
			t.Errorf("catalog history has %s %d times: %+v", st, seen[st], e.Metadata.History)
		}
	}
	if last := e.Metadata.History[len(e.Metadata.History)-1]; last.Commit != merge {
		t.Errorf("active at %s, want the merge commit %s", last.Commit, merge)
	}

	// One status commit per transition, naming it.
	var status []string
	for _, c := range mainCommits(t, s) {
		if strings.Contains(c.Message, "[skip ci]") {
			status = append(status, c.Message)
		}
	}
	for _, st := range steps {
		k := 0
		for _, m := range status {
			if strings.Contains(m, db) && strings.Contains(m, "→ "+st) {
				k++
			}
		}
		if k != 1 {
			t.Errorf("%d status commits move %s to %s, want 1:\n%s", k, db, st, strings.Join(status, "\n---\n"))
		}
	}
	if len(status) != len(steps) {
		t.Errorf("%d status commits on main, want %d:\n%s", len(status), len(steps), strings.Join(status, "\n---\n"))
	}

	// One completed apply, of the merge commit: the hung one (apply
	// phase) never got to the state.
	done, hung := 0, 0
	for _, c := range applies(t, s) {
		if c.ProviderPID != 0 {
			hung++
		} else {
			done++
		}
	}
	wantHung := map[string]int{"apply": 1}[tc.phase]
	if done != 1 || hung != wantHung {
		t.Errorf("%d completed and %d hung applies, want 1 and %d", done, hung, wantHung)
	}
	serials := stateSerials(t, s.Rollout.TerraformDir)
	if len(serials) == 0 {
		t.Error("the stand-in has no state: nothing was applied")
	}
	for name, serial := range serials {
		if serial != 1 {
			t.Errorf("state %s has serial %d, want 1 (one apply wrote it)", name, serial)
		}
	}

	// One role and one database, and the role logs in with its secret.
	conn := r.masterConn(t)
	var roles, dbs int
	var owner string
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1),
		(SELECT count(*) FROM pg_database WHERE datname = $2),
		COALESCE((SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $2), '')`, user, db).Scan(&roles, &dbs, &owner); err != nil {
		t.Fatal(err)
	}
	if roles != 1 || dbs != 1 {
		t.Errorf("%d roles %s and %d databases %s, want one each", roles, user, dbs, db)
	}
	sec, err := s.Rollout.Options.Secrets.Get(context.Background(), "goldenpath/test/"+db+"/postgres")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := secrets.ParseCredentials(sec.Value)
	if err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=verify-full&sslrootcert=%s",
		url.PathEscape(creds.Username), url.PathEscape(creds.Password), r.m.Host, r.m.Port, db, url.QueryEscape(r.m.CAFile)))
	if err != nil {
		t.Errorf("the app user cannot log in with its secret: %v", err)
	} else {
		app.Close(context.Background())
	}
	// The audit trail on main: one row per action. Rows reach the ledger
	// as each database finishes, so a database the killed run finished
	// keeps its rows; one it was in the middle of has none from that run:
	// after "provision-db" the trail says the role was up to date, not
	// that the killed run created it (the engine emits a database's rows
	// when it is done with it).
	audit, err := s.Fake.File(s.Repo, "main", "governance/test/rds_provision_audit.csv")
	if err != nil {
		t.Fatalf("no audit trail on main: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(audit)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, row := range rows[1:] { // timestamp, env, build, run, database, username, action, status, ...
		if len(row) > 7 && row[4] == db {
			got[row[6]+" "+row[7]]++
		}
	}
	want := map[string]int{"create_role success": 1, "create_database success": 1}
	if tc.phase == "provision-db" {
		want = map[string]int{"create_role no_change": 1, "create_database success": 1}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d audit rows %q for %s, want %d:\n%s", got[k], k, db, n, audit)
		}
	}
	if n := s.Rollout.Secrets.Calls("CreateSecret"); n != 1 {
		t.Errorf("%d CreateSecret calls, want 1", n)
	}

	// One status comment on the issue and on the pull request, and no bot
	// comment twice.
	for _, n := range []int{issue, pr} {
		bodies := map[string]int{}
		marked := 0
		for _, c := range botComments(s, n) {
			bodies[c.Body]++
			if strings.Contains(c.Body, "<!-- rdsbot:status -->") {
				marked++
			}
		}
		if marked != 1 {
			t.Errorf("#%d has %d status comments, want 1", n, marked)
		}
		for b, k := range bodies {
			if k > 1 {
				t.Errorf("#%d has a bot comment %d times:\n%s", n, k, b)
			}
		}
	}
	if st := plain(statusOf(s, issue)); !strings.Contains(st, "active") {
		t.Errorf("status comment of #%d:\n%s", issue, st)
	}
}

// entryStatus is the status of a test entry on main ("" when none).
func entryStatus(s *Sandbox, name string) catalog.Status {
	src, err := s.Fake.File(s.Repo, "main", "rds-catalog/test.yaml")
	if err != nil {
		return ""
	}
	f, err := catalog.Parse(src, catalog.Options{Layout: catalog.LayoutPerEnv, Environment: "test", Filename: "rds-catalog/test.yaml"})
	if err != nil {
		return ""
	}
	e, ok := f.Get(name, "test")
	if !ok {
		return ""
	}
	return e.Metadata.Status
}

// stateSerials are the serials of the stand-in's states, by file.
func stateSerials(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "state", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Serial int `json:"serial"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = doc.Serial
	}
	return out
}

// parentOf is a process's parent pid, from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	rest := string(data[bytes.LastIndexByte(data, ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		t.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

func kill(t *testing.T, c *child) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}
