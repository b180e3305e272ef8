package provision

import (
	"fmt"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
)

// dryRunAdmin stands for the master user, unknown without a connection.
const dryRunAdmin = "<master>"

// dryRun plans every unit against an empty server running PostgreSQL 15:
// the statements a first run sends. Nothing is read or connected to.
func (e *engine) dryRun(units []unit) {
	srv := serverInfo{Version: 150000, Admin: dryRunAdmin}
	admin := "(admin database)"
	for _, u := range units {
		ur := e.newUnitRun(u)
		now := e.opts.Now()
		show := func(db string, stmts []stmt) {
			for _, s := range stmts {
				ur.stmts = append(ur.stmts, Statement{Database: db, SQL: s.Shown})
			}
		}
		for _, en := range u.entries() {
			stmts, _ := planRole(ur.want(en, "current"), roleState{}, srv, "<verifier>")
			show(admin, stmts)
			flags := "LOGIN"
			if en.CreateDB {
				flags += " CREATEDB"
			}
			ur.row(en, audit.CreateRole, audit.DryRun, now, "[DRY-RUN] Would create/update role: %s (with %s), password from secret %s", en.Username, flags, e.secretPath(en))
		}
		show(admin, []stmt{planCreateDatabase(u.db, u.owner.Username)})
		ur.row(u.owner, audit.CreateDatabase, audit.DryRun, now, "[DRY-RUN] Would create database: %s with owner %s", u.db, u.owner.Username)
		grants := u.grants()
		acl, _ := planDatabaseACL(u.db, dbState{Exists: true, Owner: u.owner.Username, DefaultACL: true, PublicAccess: true}, grants)
		show(admin, acl)
		in, _, _ := planInDB(freshInDB(grants), srv, u.owner.Username, grants)
		show(u.db, in)
		mark := dbMark{Owner: u.owner.Username, Grants: grantsFingerprint(srv.Admin, u.owner.Username, grants, srv.major())}
		show(admin, []stmt{ddl(fmt.Sprintf("COMMENT ON DATABASE %s IS %s", ident(u.db), literal(mark.String())))})
		for _, en := range u.entries() {
			ur.row(en, audit.ApplyGrants, audit.DryRun, now, "[DRY-RUN] Would grant %s access on %s to %s (with default privileges)", en.Access, u.db, en.Username)
			ur.res[en.Username].Outcome = Planned
		}
		e.commit(ur)
	}
}

// DryRunNote says what a dry run's statements assume.
const DryRunNote = "dry run: nothing connected to and no secret read; these are the statements a server without these roles and databases would receive (PostgreSQL 15; on 16+ the membership grant adds WITH INHERIT TRUE, SET TRUE), passwords redacted"
