package provision

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// This file is the pure part: current state in, statements out. Nothing
// here does I/O; run.go reads the state (again, under the locks) and
// executes what these functions return.

// serverInfo is what the admin connection learned about the server.
type serverInfo struct {
	Version    int    // server_version_num, e.g. 150020
	Admin      string // current_user
	Super      bool
	CreateRole bool
	CreateDB   bool
}

func (s serverInfo) major() int { return s.Version / 10000 }

// roleState is a role as the catalogue shows it.
type roleState struct {
	Exists                                                  bool
	Login, CreateDB, Super, CreateRole, Replication, Bypass bool
	Comment                                                 string
	// AdminMember: the admin can act as the role (SET ROLE, and inherits
	// its privileges), which CREATE DATABASE ... OWNER and the grants need.
	AdminMember bool
}

// dbState is a database as pg_database shows it.
type dbState struct {
	Exists       bool
	Owner        string
	DefaultACL   bool     // datacl is NULL: PUBLIC may CONNECT and TEMP
	PublicAccess bool     // PUBLIC holds a privilege (default ACL included)
	Connect      []string // roles with an explicit CONNECT
	Comment      string
}

// canConnect: role holds CONNECT explicitly, or is the owner under the
// default ACL (which a REVOKE from PUBLIC keeps for the owner).
func (d dbState) canConnect(role string) bool {
	return slices.Contains(d.Connect, role) || (d.DefaultACL && role == d.Owner)
}

// relGap counts relations in schema public a role lacks privileges on.
type relGap struct {
	Tables, Sequences int      // that the admin can grant on
	Ungrantable       []string // owned by roles the admin cannot act for
}

// inDBState is what a target database shows about schema public.
type inDBState struct {
	SchemaExists bool
	SchemaPrivs  map[string]map[string]bool // role -> privilege -> held
	Gaps         map[string]relGap          // role -> gaps
	DefaultACL   map[string]bool            // defaultACLKey(...) present
}

func defaultACLKey(creator string, objType byte, grantee, priv string) string {
	return fmt.Sprintf("%s|%c|%s|%s", creator, objType, grantee, priv)
}

// freshInDB is the state of a database just created from an unmodified
// template1: schema public usable by its owner and PUBLIC, no relations, no
// default privileges. Dry runs plan against it.
func freshInDB(roles []grantSpec) inDBState {
	st := inDBState{SchemaExists: true, SchemaPrivs: map[string]map[string]bool{}, Gaps: map[string]relGap{}, DefaultACL: map[string]bool{}}
	for _, r := range roles {
		st.SchemaPrivs[r.Role] = map[string]bool{"USAGE": true, "CREATE": r.Access == Owner}
	}
	return st
}

// wantRole is the role an entry asks for.
type wantRole struct {
	Name     string
	CreateDB bool
	Mark     roleMark
}

// roleBlocker says why a role must not be touched, or nil.
func roleBlocker(name string, cur roleState, secret string, adopt bool, srv serverInfo) error {
	if name == srv.Admin {
		return fmt.Errorf("%w: role %s is the master user the provisioner logs in as", ErrBlocked, name)
	}
	if !cur.Exists {
		return nil
	}
	var attrs []string
	if cur.Super {
		attrs = append(attrs, "SUPERUSER")
	}
	if cur.Replication {
		attrs = append(attrs, "REPLICATION")
	}
	if cur.Bypass {
		attrs = append(attrs, "BYPASSRLS")
	}
	if len(attrs) > 0 {
		return fmt.Errorf("%w: role %s has %s; rdsbot manages plain login roles only, and only a superuser can remove that", ErrBlocked, name, strings.Join(attrs, ", "))
	}
	m, marked := parseRoleMark(cur.Comment)
	if !marked {
		if adopt {
			return nil
		}
		return fmt.Errorf("%w: role %s exists and is not managed by rdsbot (its comment carries no rdsbot mark); nothing was changed. Adopt it explicitly (--adopt %s) to let rdsbot take it over and reset its password", ErrBlocked, name, name)
	}
	if m.Secret != secret {
		return fmt.Errorf("%w: role %s is managed for secret %s, not %s; two entries cannot share a role", ErrBlocked, name, m.Secret, secret)
	}
	return nil
}

// needsPassword: the role must get the password of secret version version.
// A managed role whose mark records that version already has it.
func needsPassword(cur roleState, secret, version string) bool {
	if !cur.Exists {
		return true
	}
	m, ok := parseRoleMark(cur.Comment)
	return !ok || m.Secret != secret || m.State != stateActive || m.Version != markVersion(version)
}

// membershipGrant makes the admin able to act as role: on 15 and before
// membership is enough; 16 splits it into SET and INHERIT, both needed
// (CREATE DATABASE ... OWNER needs SET, grants as the owner need INHERIT).
func membershipGrant(role string, srv serverInfo) stmt {
	if srv.Version >= 160000 {
		return ddl(fmt.Sprintf("GRANT %s TO CURRENT_USER WITH INHERIT TRUE, SET TRUE", ident(role)))
	}
	return ddl(fmt.Sprintf("GRANT %s TO CURRENT_USER", ident(role)))
}

// planRole brings a role to want. verifier is empty when the password stays.
func planRole(want wantRole, cur roleState, srv serverInfo, verifier string) (out []stmt, changes []string) {
	pw := func(sql string) stmt {
		return stmt{SQL: sql + " PASSWORD " + literal(verifier), Shown: sql + " PASSWORD " + redacted, DDL: true}
	}
	createdb := "NOCREATEDB"
	if want.CreateDB {
		createdb = "CREATEDB"
	}
	if !cur.Exists {
		base := fmt.Sprintf("CREATE ROLE %s WITH LOGIN NOSUPERUSER NOCREATEROLE %s NOREPLICATION NOBYPASSRLS", ident(want.Name), createdb)
		out = append(out, pw(base))
		changes = append(changes, "role created")
	} else {
		// ALTER ROLE never names SUPERUSER, REPLICATION or BYPASSRLS: on 15
		// even their NO forms need a superuser.
		var attrs []string
		if !cur.Login {
			attrs = append(attrs, "LOGIN")
			changes = append(changes, "LOGIN restored")
		}
		if cur.CreateDB != want.CreateDB {
			attrs = append(attrs, createdb)
			changes = append(changes, createdb)
		}
		if cur.CreateRole {
			attrs = append(attrs, "NOCREATEROLE")
			changes = append(changes, "CREATEROLE removed")
		}
		if len(attrs) > 0 || verifier != "" {
			base := fmt.Sprintf("ALTER ROLE %s", ident(want.Name))
			if len(attrs) > 0 {
				base += " WITH " + strings.Join(attrs, " ")
			}
			if verifier != "" {
				out = append(out, pw(base))
				changes = append(changes, "password set from secret version "+want.Mark.Version)
			} else {
				out = append(out, ddl(base))
			}
		}
	}
	if !srv.Super && (!cur.Exists || !cur.AdminMember) {
		out = append(out, membershipGrant(want.Name, srv))
		if cur.Exists {
			changes = append(changes, "admin made a member")
		}
	}
	if mark := want.Mark.String(); cur.Comment != mark {
		out = append(out, ddl(fmt.Sprintf("COMMENT ON ROLE %s IS %s", ident(want.Name), literal(mark))))
		if cur.Exists && verifier == "" {
			changes = append(changes, "mark updated")
		}
	}
	return out, changes
}

// planCreateDatabase creates a database owned by owner. It runs outside any
// transaction (CREATE DATABASE cannot run inside one).
func planCreateDatabase(db, owner string) stmt {
	return ddl(fmt.Sprintf("CREATE DATABASE %s OWNER %s", ident(db), ident(owner)))
}

// planDatabaseACL closes the database to PUBLIC and opens CONNECT to the
// roles of its entries (the owner keeps its own).
func planDatabaseACL(db string, cur dbState, roles []grantSpec) (out []stmt, changes map[string][]string) {
	changes = map[string][]string{}
	if cur.PublicAccess {
		out = append(out, ddl(fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", ident(db))))
		changes[cur.Owner] = append(changes[cur.Owner], "PUBLIC's access to the database revoked")
	}
	var missing []string
	for _, r := range roles {
		if !cur.canConnect(r.Role) {
			missing = append(missing, r.Role)
		}
	}
	if len(missing) > 0 {
		quoted := make([]string, len(missing))
		for i, m := range missing {
			quoted[i] = ident(m)
		}
		out = append(out, ddl(fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", ident(db), strings.Join(quoted, ", "))))
		for _, m := range missing {
			changes[m] = append(changes[m], "CONNECT granted")
		}
	}
	return out, changes
}

// planInDB grants each role its privileges on schema public, on the tables
// and sequences already there, and by default on those created later: by
// the admin for every role, and by the owner for editors and readers.
// warnings lists what cannot be granted (relations owned by roles the admin
// cannot act for; a missing schema public).
func planInDB(cur inDBState, srv serverInfo, owner string, roles []grantSpec) (out []stmt, changes, warnings map[string][]string) {
	changes, warnings = map[string][]string{}, map[string][]string{}
	if !cur.SchemaExists {
		for _, r := range roles {
			warnings[r.Role] = append(warnings[r.Role], "schema public does not exist; no schema, table or default privileges granted")
		}
		return nil, changes, warnings
	}
	roles = slices.Clone(roles)
	sort.SliceStable(roles, func(i, j int) bool {
		if (roles[i].Access == Owner) != (roles[j].Access == Owner) {
			return roles[i].Access == Owner
		}
		return roles[i].Role < roles[j].Role
	})
	for _, r := range roles {
		var did []string
		var missing []string
		for _, p := range schemaPrivs[r.Access] {
			if !cur.SchemaPrivs[r.Role][p] {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			out = append(out, ddl(fmt.Sprintf("GRANT %s ON SCHEMA public TO %s", strings.Join(missing, ", "), ident(r.Role))))
			did = append(did, "schema public "+strings.Join(missing, ", "))
		}
		tp, sp := tablePrivsFor(r.Access, srv.Version), sequencePrivs[r.Access]
		gap := cur.Gaps[r.Role]
		if gap.Tables > 0 {
			out = append(out, ddl(fmt.Sprintf("GRANT %s ON ALL TABLES IN SCHEMA public TO %s", strings.Join(tp, ", "), ident(r.Role))))
			did = append(did, fmt.Sprintf("%d existing table(s)", gap.Tables))
		}
		if gap.Sequences > 0 {
			out = append(out, ddl(fmt.Sprintf("GRANT %s ON ALL SEQUENCES IN SCHEMA public TO %s", strings.Join(sp, ", "), ident(r.Role))))
			did = append(did, fmt.Sprintf("%d existing sequence(s)", gap.Sequences))
		}
		if len(gap.Ungrantable) > 0 {
			warnings[r.Role] = append(warnings[r.Role], fmt.Sprintf("lacks privileges on %s, owned by roles the admin cannot act for", strings.Join(gap.Ungrantable, ", ")))
		}
		creators := []string{srv.Admin}
		if r.Access != Owner && owner != srv.Admin {
			creators = []string{owner, srv.Admin}
		}
		for _, creator := range creators {
			for _, kind := range []struct {
				objType byte
				word    string
				privs   []string
			}{{'r', "TABLES", tp}, {'S', "SEQUENCES", sp}} {
				complete := true
				for _, p := range kind.privs {
					if !cur.DefaultACL[defaultACLKey(creator, kind.objType, r.Role, p)] {
						complete = false
					}
				}
				if complete {
					continue
				}
				forRole := ""
				if creator != srv.Admin {
					forRole = "FOR ROLE " + ident(creator) + " "
				}
				out = append(out, ddl(fmt.Sprintf("ALTER DEFAULT PRIVILEGES %sIN SCHEMA public GRANT %s ON %s TO %s",
					forRole, strings.Join(kind.privs, ", "), kind.word, ident(r.Role))))
				did = append(did, fmt.Sprintf("default %s privileges for objects %s creates", strings.ToLower(kind.word), creator))
			}
		}
		changes[r.Role] = append(changes[r.Role], did...)
	}
	return out, changes, warnings
}

// planDecommission disables a role and closes its database to it. The role
// and the database stay: nothing is ever dropped.
func planDecommission(role, db string, cur roleState, dbCur dbState, mark roleMark) (out []stmt, changes []string) {
	if cur.Login {
		out = append(out, ddl(fmt.Sprintf("ALTER ROLE %s WITH NOLOGIN", ident(role))))
		changes = append(changes, "NOLOGIN")
	}
	if dbCur.Exists && dbCur.canConnect(role) {
		out = append(out, ddl(fmt.Sprintf("REVOKE CONNECT ON DATABASE %s FROM %s", ident(db), ident(role))))
		changes = append(changes, "CONNECT revoked")
	}
	if m := mark.String(); cur.Comment != m {
		out = append(out, ddl(fmt.Sprintf("COMMENT ON ROLE %s IS %s", ident(role), literal(m))))
		changes = append(changes, "marked decommissioned")
	}
	return out, changes
}
