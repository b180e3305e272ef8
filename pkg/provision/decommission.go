package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

// Decommission disables the roles of opts.Entries: NOLOGIN, CONNECT on their
// database revoked, their sessions ended, and their mark set to
// decommissioned. Nothing is dropped: the role, its database and its data
// stay, and provisioning the entry again brings the role back (LOGIN, the
// password of the secret's current version, CONNECT).
//
// Entries need Database and Username; Key is optional (it names the secret
// recorded when an unmarked role is adopted). A role rdsbot does not manage
// blocks, unless adopted; a role that does not exist is a warning.
// Environments other than dev need Approved, as for Run.
func Decommission(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	e := newEngine(opts)
	defer e.finish()
	if err := e.checkInputs(); err != nil {
		return e.report, err
	}
	var errs []error
	for _, en := range opts.Entries {
		if !identRE.MatchString(en.Database) || !identRE.MatchString(en.Username) {
			errs = append(errs, fmt.Errorf("%s: database_name and username must match ^[a-z][a-z0-9_]*$ (got %q, %q)", en.where(), en.Database, en.Username))
		}
	}
	if len(errs) > 0 {
		return e.report, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	if err := opts.checkApproval("decommissioning"); err != nil {
		return e.report, err
	}
	if opts.DryRun {
		for _, en := range opts.Entries {
			ur := e.newUnitRun(unit{db: en.Database, owner: en})
			mark := roleMark{Secret: "<recorded>", Version: "<recorded>", State: stateDecommissioned}
			stmts, _ := planDecommission(en.Username, en.Database, roleState{Exists: true, Login: true}, dbState{Exists: true, Connect: []string{en.Username}}, mark)
			for _, s := range stmts {
				ur.stmts = append(ur.stmts, Statement{SQL: s.Shown})
			}
			ur.row(en, audit.Decommission, audit.DryRun, e.opts.Now(), "[DRY-RUN] Would decommission role %s: NOLOGIN, CONNECT on %s revoked, sessions ended; nothing dropped", en.Username, en.Database)
			ur.res[en.Username].Outcome = Planned
			e.commit(ur)
		}
		return e.report, nil
	}
	if err := e.connect(ctx); err != nil {
		return e.report, err
	}
	defer e.pool.Close()
	for _, en := range opts.Entries {
		if e.stop.Load() {
			break
		}
		ur := e.newUnitRun(unit{db: en.Database, owner: en})
		if err := ur.decommission(ctx, en); err != nil {
			ur.fail(err)
			if !opts.ContinueOnError {
				e.stop.Store(true)
			}
		}
		e.commit(ur)
	}
	return e.report, e.runError()
}

func (ur *unitRun) decommission(ctx context.Context, en Entry) error {
	started := ur.e.opts.Now()
	var changes []string
	missing := false
	err := pgx.BeginFunc(ctx, ur.e.pool, func(tx pgx.Tx) error {
		if err := lock(ctx, tx, []int64{lockKey("role", en.Username), lockKey("database", en.Database)}); err != nil {
			return err
		}
		roles, err := readRoles(ctx, tx, ur.e.srv, []string{en.Username})
		if err != nil {
			return err
		}
		dbs, err := readDatabases(ctx, tx, []string{en.Database})
		if err != nil {
			return err
		}
		cur := roles[en.Username]
		if !cur.Exists {
			missing = true
			return nil
		}
		if en.Username == ur.e.srv.Admin {
			return fmt.Errorf("%w: role %s is the master user", ErrBlocked, en.Username)
		}
		mark, marked := parseRoleMark(cur.Comment)
		if !marked {
			if !ur.e.adopt[en.Username] {
				return fmt.Errorf("%w: role %s is not managed by rdsbot (no rdsbot mark in its comment); nothing was changed", ErrBlocked, en.Username)
			}
			if en.Key != "" {
				mark.Secret = ur.e.secretPath(en)
			}
		}
		mark.State = stateDecommissioned
		var stmts []stmt
		stmts, changes = planDecommission(en.Username, en.Database, cur, dbs[en.Database], mark)
		return ur.exec(ctx, tx, ur.e.target.Database, stmts)
	})
	if err != nil {
		ur.row(en, audit.Decommission, audit.Error, started, "%s", oneLine(err.Error()))
		return err
	}
	r := ur.res[en.Username]
	if missing {
		r.Warnings = append(r.Warnings, "role does not exist")
		ur.row(en, audit.Decommission, audit.Warning, started, "role %s does not exist; nothing to decommission", en.Username)
		return nil
	}
	// Sessions opened before NOLOGIN stay open until ended.
	var ended int
	err = ur.e.pool.QueryRow(ctx, `SELECT count(*)::int FROM (SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
		WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid()) t`, en.Username).Scan(&ended)
	if err != nil {
		r.Warnings = append(r.Warnings, "open sessions not ended: "+err.Error())
	} else if ended > 0 {
		changes = append(changes, fmt.Sprintf("%d open session(s) ended", ended))
	}
	switch {
	case len(r.Warnings) > 0:
		r.Outcome, r.Changes = Decommissioned, changes
		ur.row(en, audit.Decommission, audit.Warning, started, "role %s: %s; %s", en.Username, strings.Join(changes, "; "), strings.Join(r.Warnings, "; "))
	case len(changes) > 0:
		r.Outcome, r.Changes = Decommissioned, changes
		ur.row(en, audit.Decommission, audit.Success, started, "role %s decommissioned: %s; nothing dropped", en.Username, strings.Join(changes, "; "))
	default:
		ur.row(en, audit.Decommission, audit.NoChange, started, "role %s already decommissioned", en.Username)
	}
	return nil
}
