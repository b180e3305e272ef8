package provision

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// Run provisions the entries: for each database, its owner role and the
// roles of its editor and reader entries (LOGIN, CREATEDB where configured,
// the password of the entry's secret as a SCRAM verifier, a comment marking
// it managed with the secret version applied), the database owned by the
// owner role, closed to PUBLIC and open to its roles, and the privileges
// inside it. It reads the current state in a few catalogue queries and
// changes only the difference; a rerun with nothing to do issues no DDL and
// reads no secret value.
//
// Run always returns a report. The error is ErrApprovalRequired, an
// ErrInvalid error (entries or options), a setup error (master secret,
// connection), or a *RunError listing the failed and blocked entries.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	e := newEngine(opts)
	defer e.finish()
	if err := e.checkInputs(); err != nil {
		return e.report, err
	}
	if err := ValidateEntries(opts.Entries); err != nil {
		return e.report, err
	}
	if err := opts.checkApproval("provisioning"); err != nil {
		return e.report, err
	}
	units := groupUnits(opts.Entries)
	if opts.DryRun {
		e.dryRun(units)
		return e.report, nil
	}
	if err := e.connect(ctx); err != nil {
		return e.report, err
	}
	defer e.pool.Close()
	return e.report, e.provision(ctx, units)
}

// unit is one database with the entries that use it; units are independent
// of each other and run in parallel.
type unit struct {
	db     string
	owner  Entry
	others []Entry // editors and readers, by username
}

func (u unit) entries() []Entry { return append([]Entry{u.owner}, u.others...) }

func (u unit) grants() []grantSpec {
	out := []grantSpec{{Role: u.owner.Username, Access: Owner}}
	for _, e := range u.others {
		out = append(out, grantSpec{Role: e.Username, Access: e.Access})
	}
	return out
}

func (u unit) roleNames() []string {
	var out []string
	for _, e := range u.entries() {
		out = append(out, e.Username)
	}
	return out
}

// groupUnits groups validated entries by database, in the order the
// databases first appear.
func groupUnits(entries []Entry) []unit {
	var order []string
	by := map[string]*unit{}
	for _, e := range entries {
		u := by[e.Database]
		if u == nil {
			u = &unit{db: e.Database}
			by[e.Database] = u
			order = append(order, e.Database)
		}
		if e.Access == Owner {
			u.owner = e
		} else {
			u.others = append(u.others, e)
		}
	}
	out := make([]unit, 0, len(order))
	for _, db := range order {
		u := by[db]
		sort.Slice(u.others, func(i, j int) bool { return u.others[i].Username < u.others[j].Username })
		out = append(out, *u)
	}
	return out
}

type engine struct {
	opts   Options
	start  time.Time
	srv    serverInfo
	target adminTarget
	pool   *pgxpool.Pool
	adopt  map[string]bool

	mu       sync.Mutex // guards report, results, the audit sink
	report   *Report
	results  map[string]*EntryResult // by key
	auditErr error
	stop     atomic.Bool
}

func newEngine(opts Options) *engine {
	e := &engine{opts: opts, start: opts.Now(), adopt: map[string]bool{}, results: map[string]*EntryResult{}}
	e.report = &Report{Environment: opts.Environment, BuildID: opts.BuildID, RunID: opts.RunID, DryRun: opts.DryRun,
		Results: []EntryResult{}, Statements: []Statement{}, Rows: []audit.Row{}}
	for _, a := range opts.Adopt {
		e.adopt[a] = true
	}
	for _, en := range opts.Entries {
		r := &EntryResult{Key: en.Key, Database: en.Database, Username: en.Username, Access: en.Access, Outcome: Skipped}
		e.results[en.Key] = r
	}
	return e
}

func (e *engine) checkInputs() error {
	if err := CheckEnvironment(e.opts.Environment); err != nil {
		return err
	}
	if e.opts.Secrets == nil && !e.opts.DryRun {
		return fmt.Errorf("%w: no secret store", ErrInvalid)
	}
	if err := secrets.CheckName(e.opts.MasterSecret); err != nil {
		return fmt.Errorf("%w: master secret: %w", ErrInvalid, err)
	}
	return nil
}

// finish fills the report's results in entry order and its duration.
func (e *engine) finish() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.Results = e.report.Results[:0]
	for _, en := range e.opts.Entries {
		if r := e.results[en.Key]; r != nil {
			if r.Outcome == Skipped && len(r.Warnings) == 0 {
				r.Warnings = []string{"not run: the run stopped before this entry (fail-fast; ContinueOnError / --no-fail-fast runs the others)"}
			}
			e.report.Results = append(e.report.Results, *r)
		}
	}
	e.report.Duration = e.opts.Now().Sub(e.start)
}

// connect reads the master secret, opens the admin pool and checks that the
// admin can do the job.
func (e *engine) connect(ctx context.Context) error {
	s, err := e.opts.Secrets.Get(ctx, e.opts.MasterSecret)
	if err != nil {
		return fmt.Errorf("master secret: %w", err)
	}
	creds, err := secrets.ParseCredentials(s.Value)
	if err != nil {
		return fmt.Errorf("master secret %s: %w", e.opts.MasterSecret, err)
	}
	if e.target, err = resolveAdmin(e.opts.Admin, creds, e.opts.MasterSecret); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	e.report.Target = e.target.String()
	if e.pool, err = openPool(ctx, e.target, e.opts.Parallel+1, e.opts.Admin.RetryFor, e.opts.Logger); err != nil {
		return err
	}
	if e.srv, err = readServerInfo(ctx, e.pool); err != nil {
		e.pool.Close()
		return err
	}
	e.report.ServerVersion = e.srv.Version
	if !e.srv.Super && !(e.srv.CreateRole && e.srv.CreateDB) {
		e.pool.Close()
		return fmt.Errorf("the master user %s needs CREATEROLE and CREATEDB (RDS's master has both)", e.srv.Admin)
	}
	e.opts.Logger.Info("connected", "target", e.target.String(), "server_version", e.srv.Version, "superuser", e.srv.Super)
	return nil
}

// provision reads the state, checks for blockers, and runs the units.
func (e *engine) provision(ctx context.Context, units []unit) error {
	var roleNames, dbNames []string
	for _, u := range units {
		roleNames = append(roleNames, u.roleNames()...)
		dbNames = append(dbNames, u.db)
	}
	roles, err := readRoles(ctx, e.pool, e.srv, roleNames)
	if err != nil {
		return err
	}
	dbs, err := readDatabases(ctx, e.pool, dbNames)
	if err != nil {
		return err
	}

	// Blockers first: with fail-fast, one blocker means nothing is changed.
	blocked := map[string]error{}
	for _, u := range units {
		if err := e.unitBlocker(u, roles, dbs); err != nil {
			blocked[u.db] = err
		}
	}
	for _, u := range units {
		if err := blocked[u.db]; err != nil {
			ur := e.newUnitRun(u)
			ur.blockAll(err)
			e.commit(ur)
		}
	}
	if len(blocked) > 0 && !e.opts.ContinueOnError {
		return e.runError()
	}

	sem := make(chan struct{}, e.opts.Parallel)
	var wg sync.WaitGroup
	for _, u := range units {
		if blocked[u.db] != nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || e.stop.Load() {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ur := e.newUnitRun(u)
			if err := ur.run(ctx, roles, dbs[u.db]); err != nil {
				ur.fail(err)
				if !e.opts.ContinueOnError {
					e.stop.Store(true)
				}
			}
			e.commit(ur)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return e.runError()
}

// runError gathers failed and blocked entries (and an audit failure).
func (e *engine) runError() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, en := range e.opts.Entries {
		r := e.results[en.Key]
		if r != nil && (r.Outcome == Failed || r.Outcome == Blocked) {
			err := errors.New(r.Error)
			if r.Outcome == Blocked {
				err = fmt.Errorf("%w: %s", ErrBlocked, strings.TrimPrefix(r.Error, ErrBlocked.Error()+": "))
			}
			errs = append(errs, fmt.Errorf("%s (%s/%s): %w", en.Key, en.Database, en.Username, err))
		}
	}
	if e.auditErr != nil {
		errs = append(errs, fmt.Errorf("audit trail: %w", e.auditErr))
	}
	if len(errs) == 0 {
		return nil
	}
	return &RunError{Errors: errs}
}

// unitBlocker: a database owned by another role, or a role rdsbot does not
// manage, stops the whole unit before anything is changed.
func (e *engine) unitBlocker(u unit, roles map[string]roleState, dbs map[string]dbState) error {
	var errs []error
	if d := dbs[u.db]; d.Exists && d.Owner != u.owner.Username {
		errs = append(errs, fmt.Errorf("%w: database %s exists and is owned by %s, not %s; rdsbot never takes over a database; nothing was changed",
			ErrBlocked, u.db, d.Owner, u.owner.Username))
	}
	for _, en := range u.entries() {
		if err := roleBlocker(en.Username, roles[en.Username], e.secretPath(en), e.adopt[en.Username], e.srv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *engine) secretPath(en Entry) string {
	return SecretPath(e.opts.SecretPrefix, e.opts.Environment, en.Key)
}

// commit publishes a finished unit: results, statements, audit rows.
func (e *engine) commit(ur *unitRun) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.report.Statements = append(e.report.Statements, ur.stmts...)
	e.report.DDL += ur.ddl
	e.report.Rows = append(e.report.Rows, ur.rows...)
	if e.opts.Audit != nil && len(ur.rows) > 0 {
		if err := e.opts.Audit.Write(ur.rows); err != nil && e.auditErr == nil {
			e.auditErr = err
			e.opts.Logger.Error("audit trail not written", "error", err)
		}
	}
	for _, en := range ur.u.entries() {
		r := ur.res[en.Username]
		e.results[en.Key] = r
		if e.opts.Progress != nil {
			e.opts.Progress(*r)
		}
	}
}

// unitRun is one database's work and what it produced.
type unitRun struct {
	e     *engine
	u     unit
	res   map[string]*EntryResult // by username
	rows  []audit.Row
	stmts []Statement
	ddl   int

	versions  map[string]string // username -> current secret version
	passwords map[string]fetched
}

type fetched struct {
	verifier, version string
}

func (e *engine) newUnitRun(u unit) *unitRun {
	ur := &unitRun{e: e, u: u, res: map[string]*EntryResult{}, versions: map[string]string{}, passwords: map[string]fetched{}}
	for _, en := range u.entries() {
		ur.res[en.Username] = &EntryResult{Key: en.Key, Database: en.Database, Username: en.Username, Access: en.Access, Outcome: Unchanged}
	}
	return ur
}

func (ur *unitRun) row(en Entry, action audit.Action, status audit.Status, started time.Time, format string, args ...any) {
	now := ur.e.opts.Now()
	ur.rows = append(ur.rows, audit.Row{
		Time: now, Environment: ur.e.opts.Environment, BuildID: ur.e.opts.BuildID, RunID: ur.e.opts.RunID,
		Database: en.Database, Username: en.Username, Action: action, Status: status,
		Duration: now.Sub(started), Message: fmt.Sprintf(format, args...),
	})
}

func (ur *unitRun) changed(user string, outcome Outcome, changes ...string) {
	r := ur.res[user]
	r.Changes = append(r.Changes, changes...)
	if outcome == Created || r.Outcome == Unchanged {
		r.Outcome = outcome
	}
}

// blockAll marks every entry of the unit blocked.
func (ur *unitRun) blockAll(err error) {
	for _, en := range ur.u.entries() {
		r := ur.res[en.Username]
		r.Outcome, r.Error = Blocked, err.Error()
		action := audit.CreateRole
		if strings.Contains(err.Error(), "database "+en.Database+" exists") {
			action = audit.CreateDatabase
		}
		ur.row(en, action, audit.Error, ur.e.opts.Now(), "%s", oneLine(err.Error()))
	}
}

// fail marks the unit failed after err (its entries that were not blocked).
func (ur *unitRun) fail(err error) {
	outcome := Failed
	if errors.Is(err, ErrBlocked) {
		outcome = Blocked
	}
	for _, en := range ur.u.entries() {
		r := ur.res[en.Username]
		r.Outcome, r.Error = outcome, err.Error()
	}
	ur.e.opts.Logger.Error("provisioning failed", "database", ur.u.db, "error", err)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// exec runs statements on a session connected to database db.
func (ur *unitRun) exec(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, db string, stmts []stmt) error {
	for _, s := range stmts {
		ur.e.opts.Logger.Debug("statement", "database", db, "sql", s.Shown)
		if _, err := q.Exec(ctx, s.SQL); err != nil {
			return &stmtError{shown: s.Shown, err: err}
		}
		ur.stmts = append(ur.stmts, Statement{Database: db, SQL: s.Shown})
		if s.DDL {
			ur.ddl++
		}
	}
	return nil
}

// stmtError names the statement that failed (as shown: no password).
type stmtError struct {
	shown string
	err   error
}

func (e *stmtError) Error() string { return fmt.Sprintf("%s: %v", e.shown, e.err) }
func (e *stmtError) Unwrap() error { return e.err }

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// lock takes the transaction-scoped advisory locks of keys, in order.
func lock(ctx context.Context, tx pgx.Tx, keys []int64) error {
	for _, k := range lockKeys(keys...) {
		if _, err := tx.Exec(ctx, "SELECT pg_catalog.pg_advisory_xact_lock($1)", k); err != nil {
			return fmt.Errorf("advisory lock: %w", err)
		}
	}
	return nil
}

func (ur *unitRun) hook(step string) {
	if h := ur.e.opts.hooks; h != nil && h.afterStep != nil {
		h.afterStep(step, ur.u.db)
	}
}

// run provisions one database and its roles.
func (ur *unitRun) run(ctx context.Context, roles map[string]roleState, db dbState) error {
	u := ur.u
	for _, en := range u.entries() {
		if err := ur.secretVersion(ctx, en); err != nil {
			return err
		}
	}
	if err := ur.roleStep(ctx, roles); err != nil {
		return err
	}
	ur.hook("roles")

	started := ur.e.opts.Now()
	if !db.Exists {
		created, err := ur.createDatabase(ctx)
		if err != nil {
			ur.row(u.owner, audit.CreateDatabase, audit.Error, started, "%s", oneLine(err.Error()))
			return err
		}
		if created {
			ur.row(u.owner, audit.CreateDatabase, audit.Success, started, "created database %s owned by %s", u.db, u.owner.Username)
			ur.changed(u.owner.Username, Created, "database created")
		} else {
			ur.row(u.owner, audit.CreateDatabase, audit.NoChange, started, "database %s was created meanwhile by another run, owned by %s", u.db, u.owner.Username)
		}
		// A new database has the default ACL; read it back rather than assume.
		dbs, err := readDatabases(ctx, ur.e.pool, []string{u.db})
		if err != nil {
			return err
		}
		db = dbs[u.db]
		if db.Owner != u.owner.Username {
			return fmt.Errorf("%w: database %s was created meanwhile by someone else, owned by %s", ErrBlocked, u.db, db.Owner)
		}
		ur.hook("create_database")
	} else {
		ur.row(u.owner, audit.CreateDatabase, audit.NoChange, started, "database %s exists, owned by %s", u.db, u.owner.Username)
	}

	grantsStarted := ur.e.opts.Now()
	changes := map[string][]string{}
	warnings := map[string][]string{}
	err := ur.grantStep(ctx, db, changes, warnings)
	for _, en := range u.entries() {
		switch {
		case err != nil:
			ur.row(en, audit.ApplyGrants, audit.Error, grantsStarted, "%s", oneLine(err.Error()))
		case len(warnings[en.Username]) > 0:
			ur.res[en.Username].Warnings = append(ur.res[en.Username].Warnings, warnings[en.Username]...)
			ur.changed(en.Username, Updated, changes[en.Username]...)
			ur.row(en, audit.ApplyGrants, audit.Warning, grantsStarted, "%s access on %s: %s", en.Access, u.db,
				strings.Join(append(slices.Clone(changes[en.Username]), warnings[en.Username]...), "; "))
		case len(changes[en.Username]) > 0:
			ur.changed(en.Username, Updated, changes[en.Username]...)
			ur.row(en, audit.ApplyGrants, audit.Success, grantsStarted, "%s access on %s: %s", en.Access, u.db, strings.Join(changes[en.Username], "; "))
		default:
			ur.row(en, audit.ApplyGrants, audit.NoChange, grantsStarted, "%s access on %s already in place (with default privileges)", en.Access, u.db)
		}
	}
	return err
}

// secretVersion learns the current version of an entry's secret without
// reading its value, creating the secret when asked to and it is missing.
func (ur *unitRun) secretVersion(ctx context.Context, en Entry) error {
	started := ur.e.opts.Now()
	path := ur.e.secretPath(en)
	m, err := ur.e.opts.Secrets.Describe(ctx, path)
	if errors.Is(err, secrets.ErrNotFound) && ur.e.opts.GenerateMissing {
		m, err = ur.generateSecret(ctx, en, path)
		if err == nil {
			ur.row(en, audit.FetchSecret, audit.Success, started, "generated secret %s (version %s)", path, m.VersionID)
			ur.changed(en.Username, Updated, "secret generated")
		}
	}
	if err != nil {
		err = fmt.Errorf("app secret %s: %w", path, err)
		ur.row(en, audit.FetchSecret, audit.Error, started, "%s", oneLine(err.Error()))
		return err
	}
	ur.versions[en.Username] = m.VersionID
	return nil
}

func (ur *unitRun) generateSecret(ctx context.Context, en Entry, path string) (*secrets.Metadata, error) {
	pw, err := randomPassword(32)
	if err != nil {
		return nil, err
	}
	c := secrets.Credentials{Username: en.Username, Password: pw, Host: ur.e.target.Host, Port: ur.e.target.Port, DBName: en.Database, Engine: "postgres"}
	m, err := ur.e.opts.Secrets.Create(ctx, path, c.JSON(), secrets.CreateOptions{
		Description: fmt.Sprintf("PostgreSQL credentials of %s (database %s), generated by rdsbot", en.Username, en.Database),
		Tags:        map[string]string{"Application": en.Key, "Environment": ur.e.opts.Environment, "ManagedBy": "rdsbot"},
	})
	if errors.Is(err, secrets.ErrExists) {
		return ur.e.opts.Secrets.Describe(ctx, path) // created meanwhile by another run
	}
	return m, err
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomPassword draws n characters uniformly from passwordAlphabet.
func randomPassword(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if b < 248 && len(out) < n {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}

// password reads an entry's secret value and turns it into a verifier.
func (ur *unitRun) password(ctx context.Context, en Entry) (fetched, error) {
	if f, ok := ur.passwords[en.Username]; ok {
		return f, nil
	}
	started := ur.e.opts.Now()
	path := ur.e.secretPath(en)
	f, err := func() (fetched, error) {
		s, err := ur.e.opts.Secrets.Get(ctx, path)
		if err != nil {
			return fetched{}, fmt.Errorf("app secret: %w", err)
		}
		c, err := secrets.ParseCredentials(s.Value)
		if err != nil {
			return fetched{}, fmt.Errorf("app secret %s: %w", path, err)
		}
		if c.Password == "" {
			return fetched{}, fmt.Errorf("app secret %s has no password field", path)
		}
		if c.Username != "" && c.Username != en.Username {
			return fetched{}, fmt.Errorf("app secret %s is for username %q, but the entry's username is %q", path, c.Username, en.Username)
		}
		v, err := ScramVerifier(c.Password)
		if err != nil {
			return fetched{}, fmt.Errorf("app secret %s: %w", path, err)
		}
		return fetched{verifier: v, version: s.VersionID}, nil
	}()
	if err != nil {
		ur.row(en, audit.FetchSecret, audit.Error, started, "%s", oneLine(err.Error()))
		return f, err
	}
	ur.row(en, audit.FetchSecret, audit.Success, started, "read secret %s (version %s)", path, f.version)
	ur.passwords[en.Username] = f
	return f, nil
}

// roleStep creates or updates the unit's roles in one transaction under
// their advisory locks, when the state read at the start says something is
// to do. Under the locks the roles are read again: another run may have
// done the work meanwhile.
func (ur *unitRun) roleStep(ctx context.Context, start map[string]roleState) error {
	started := ur.e.opts.Now()
	predicted := false
	for _, en := range ur.u.entries() {
		cur := start[en.Username]
		verifier := ""
		if needsPassword(cur, ur.e.secretPath(en), ur.versions[en.Username]) {
			verifier = "pending"
		}
		if stmts, _ := planRole(ur.want(en, ur.versions[en.Username]), cur, ur.e.srv, verifier); len(stmts) > 0 {
			predicted = true
		}
	}
	if !predicted {
		for _, en := range ur.u.entries() {
			ur.row(en, audit.CreateRole, audit.NoChange, started, "role %s up to date (secret %s version %s)", en.Username, ur.e.secretPath(en), ur.versions[en.Username])
		}
		return nil
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		err = ur.roleTx(ctx, started)
		if code := sqlState(err); code != "42710" && !(code == "23505" && constraintName(err) == "pg_authid_rolname_index") {
			break
		}
		// Created meanwhile by someone not taking our locks: read again.
	}
	if err != nil {
		for _, en := range ur.u.entries() {
			ur.row(en, audit.CreateRole, audit.Error, started, "%s", oneLine(err.Error()))
		}
	}
	return err
}

func (ur *unitRun) want(en Entry, version string) wantRole {
	return wantRole{Name: en.Username, CreateDB: en.CreateDB,
		Mark: roleMark{Secret: ur.e.secretPath(en), Version: version, State: stateActive}}
}

func (ur *unitRun) roleTx(ctx context.Context, started time.Time) error {
	names := ur.u.roleNames()
	keys := make([]int64, len(names))
	for i, n := range names {
		keys[i] = lockKey("role", n)
	}
	type outcome struct {
		en      Entry
		created bool
		changes []string
	}
	var outcomes []outcome
	err := pgx.BeginFunc(ctx, ur.e.pool, func(tx pgx.Tx) error {
		outcomes = outcomes[:0]
		if err := lock(ctx, tx, keys); err != nil {
			return err
		}
		cur, err := readRoles(ctx, tx, ur.e.srv, names)
		if err != nil {
			return err
		}
		for _, en := range ur.u.entries() {
			c := cur[en.Username]
			path := ur.e.secretPath(en)
			if err := roleBlocker(en.Username, c, path, ur.e.adopt[en.Username], ur.e.srv); err != nil {
				return err
			}
			version, verifier := ur.versions[en.Username], ""
			if needsPassword(c, path, version) {
				f, err := ur.password(ctx, en)
				if err != nil {
					return err
				}
				version, verifier = f.version, f.verifier
			}
			stmts, changes := planRole(ur.want(en, version), c, ur.e.srv, verifier)
			if err := ur.exec(ctx, tx, ur.e.target.Database, stmts); err != nil {
				return err
			}
			outcomes = append(outcomes, outcome{en: en, created: !c.Exists, changes: changes})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range outcomes {
		path := ur.e.secretPath(o.en)
		switch {
		case o.created:
			ur.changed(o.en.Username, Created, o.changes...)
			ur.row(o.en, audit.CreateRole, audit.Success, started, "created role %s (LOGIN%s) with the password of secret %s version %s",
				o.en.Username, map[bool]string{true: " CREATEDB", false: ""}[o.en.CreateDB], path, ur.versionApplied(o.en))
		case len(o.changes) > 0:
			ur.changed(o.en.Username, Updated, o.changes...)
			ur.row(o.en, audit.UpdateRole, audit.Success, started, "role %s: %s", o.en.Username, strings.Join(o.changes, "; "))
		default:
			ur.row(o.en, audit.CreateRole, audit.NoChange, started, "role %s up to date (secret %s version %s)", o.en.Username, path, ur.versionApplied(o.en))
		}
	}
	return nil
}

func (ur *unitRun) versionApplied(en Entry) string {
	if f, ok := ur.passwords[en.Username]; ok {
		return f.version
	}
	return ur.versions[en.Username]
}

// createDatabase runs CREATE DATABASE, which cannot run in a transaction,
// under a session-level advisory lock on the database's key: concurrent
// runs wait, then find it created. A database created meanwhile by someone
// not taking the lock (42P04, or 23505 when both inserts race) is success
// too; created is false then.
func (ur *unitRun) createDatabase(ctx context.Context) (created bool, err error) {
	conn, err := ur.e.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	key := lockKey("database", ur.u.db)
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_advisory_lock($1)", key); err != nil {
		return false, fmt.Errorf("advisory lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.Background(), "SELECT pg_catalog.pg_advisory_unlock($1)", key); uerr != nil {
			// A session that may still hold the lock must not go back to
			// the pool.
			_ = conn.Conn().Close(context.Background())
		}
	}()
	dbs, err := readDatabases(ctx, conn, []string{ur.u.db})
	if err != nil {
		return false, err
	}
	if dbs[ur.u.db].Exists {
		return false, nil
	}
	err = ur.exec(ctx, conn, ur.e.target.Database, []stmt{planCreateDatabase(ur.u.db, ur.u.owner.Username)})
	switch code := sqlState(err); {
	case code == "42P04":
		return false, nil
	case code == "23505" && constraintName(err) == "pg_database_datname_index":
		return false, nil
	}
	return err == nil, err
}

func constraintName(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// grantStep closes the database to PUBLIC and opens it to its roles, then,
// unless its mark says the same grants were applied, grants inside it, and
// marks it.
func (ur *unitRun) grantStep(ctx context.Context, db dbState, changes, warnings map[string][]string) error {
	u, e := ur.u, ur.e
	grants := u.grants()
	merge := func(m map[string][]string) {
		for k, v := range m {
			changes[k] = append(changes[k], v...)
		}
	}
	if stmts, _ := planDatabaseACL(u.db, db, grants); len(stmts) > 0 {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			if err := lock(ctx, tx, []int64{lockKey("database", u.db)}); err != nil {
				return err
			}
			cur, err := readDatabases(ctx, tx, []string{u.db})
			if err != nil {
				return err
			}
			stmts, ch := planDatabaseACL(u.db, cur[u.db], grants)
			if err := ur.exec(ctx, tx, e.target.Database, stmts); err != nil {
				return err
			}
			merge(ch)
			return nil
		})
		if err != nil {
			return err
		}
		ur.hook("database_acl")
	}

	fp := grantsFingerprint(e.srv.Admin, u.owner.Username, grants, e.srv.major())
	want := dbMark{Owner: u.owner.Username, Grants: fp}
	if m, ok := parseDBMark(db.Comment); ok && m == want && !e.opts.VerifyGrants {
		return nil
	}
	cfg, err := e.target.connConfig(u.db)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to database %s: %w", u.db, err)
	}
	defer conn.Close(context.Background())
	cur, err := readInDB(ctx, conn, e.srv, grants)
	if err != nil {
		return err
	}
	stmts, _, warn := planInDB(cur, e.srv, u.owner.Username, grants)
	if len(stmts) > 0 {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := lock(ctx, tx, []int64{lockKey("in-database", u.db)}); err != nil {
				return err
			}
			cur, err := readInDB(ctx, tx.Conn(), e.srv, grants)
			if err != nil {
				return err
			}
			var ch map[string][]string
			stmts, ch, warn = planInDB(cur, e.srv, u.owner.Username, grants)
			if err := ur.exec(ctx, tx, u.db, stmts); err != nil {
				return err
			}
			merge(ch)
			return nil
		})
		if err != nil {
			return err
		}
	}
	for k, v := range warn {
		warnings[k] = append(warnings[k], v...)
	}
	ur.hook("in_database")
	if len(warn) > 0 {
		return nil // not marked: the next run looks again
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, []int64{lockKey("database", u.db)}); err != nil {
			return err
		}
		cur, err := readDatabases(ctx, tx, []string{u.db})
		if err != nil {
			return err
		}
		if cur[u.db].Comment == want.String() {
			return nil
		}
		return ur.exec(ctx, tx, e.target.Database, []stmt{ddl(fmt.Sprintf("COMMENT ON DATABASE %s IS %s", ident(u.db), literal(want.String())))})
	})
}
