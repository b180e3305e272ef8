package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// querier is what the state readers need: a connection, a pool or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// The catalogue queries. None reads pg_authid (RDS's master cannot):
// pg_roles, pg_database, pg_auth_members through pg_has_role, and comments
// through shobj_description are readable by every role.

const serverInfoSQL = `SELECT current_setting('server_version_num')::int, current_user::text,
	r.rolsuper, r.rolcreaterole, r.rolcreatedb
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`

func readServerInfo(ctx context.Context, q querier) (serverInfo, error) {
	var s serverInfo
	err := q.QueryRow(ctx, serverInfoSQL).Scan(&s.Version, &s.Admin, &s.Super, &s.CreateRole, &s.CreateDB)
	if err != nil {
		return s, fmt.Errorf("read server version and the admin's attributes: %w", err)
	}
	return s, nil
}

func rolesSQL(srv serverInfo) string {
	member := "pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')"
	if srv.Version >= 160000 {
		member = "(pg_catalog.pg_has_role(current_user, r.oid, 'SET') AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE'))"
	}
	return `SELECT r.rolname::text, r.rolcanlogin, r.rolcreatedb, r.rolsuper, r.rolcreaterole, r.rolreplication, r.rolbypassrls,
	coalesce(pg_catalog.shobj_description(r.oid, 'pg_authid'), ''), ` + member + `
FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1::text[])`
}

// readRoles returns the state of each named role (absent ones with Exists
// false).
func readRoles(ctx context.Context, q querier, srv serverInfo, names []string) (map[string]roleState, error) {
	rows, err := q.Query(ctx, rolesSQL(srv), names)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	out := make(map[string]roleState, len(names))
	for _, n := range names {
		out[n] = roleState{}
	}
	for rows.Next() {
		var name string
		r := roleState{Exists: true}
		if err := rows.Scan(&name, &r.Login, &r.CreateDB, &r.Super, &r.CreateRole, &r.Replication, &r.Bypass, &r.Comment, &r.AdminMember); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read roles: %w", err)
		}
		out[name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	return out, nil
}

const databasesSQL = `SELECT d.datname::text, pg_catalog.pg_get_userbyid(d.datdba)::text,
	d.datacl IS NULL,
	d.datacl IS NULL OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(d.datacl) a WHERE a.grantee = 0),
	coalesce(ARRAY(SELECT pg_catalog.pg_get_userbyid(a.grantee)::text FROM pg_catalog.aclexplode(d.datacl) a
		WHERE a.privilege_type = 'CONNECT' AND a.grantee <> 0 ORDER BY 1), '{}'),
	coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), '')
FROM pg_catalog.pg_database d WHERE d.datname = ANY($1::text[])`

func readDatabases(ctx context.Context, q querier, names []string) (map[string]dbState, error) {
	rows, err := q.Query(ctx, databasesSQL, names)
	if err != nil {
		return nil, fmt.Errorf("read databases: %w", err)
	}
	out := make(map[string]dbState, len(names))
	for _, n := range names {
		out[n] = dbState{}
	}
	for rows.Next() {
		var name string
		d := dbState{Exists: true}
		if err := rows.Scan(&name, &d.Owner, &d.DefaultACL, &d.PublicAccess, &d.Connect, &d.Comment); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read databases: %w", err)
		}
		out[name] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read databases: %w", err)
	}
	return out, nil
}

// The in-database queries, run on a connection to the target database.
const (
	schemaPrivsSQL = `SELECT g.role, pg_catalog.has_schema_privilege(g.role, n.oid, 'USAGE'), pg_catalog.has_schema_privilege(g.role, n.oid, 'CREATE')
FROM pg_catalog.pg_namespace n CROSS JOIN unnest($1::text[]) AS g(role) WHERE n.nspname = 'public'`

	// relGapsSQL counts, per role, the relations of schema public on which
	// it lacks one of its privileges, split by whether the admin can grant
	// them (it acts for the relation's owner).
	relGapsSQL = `SELECT g.role, c.relkind = 'S', pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'), count(*)::int,
	(array_agg(c.relname::text ORDER BY c.relname))[1:5]
FROM pg_catalog.pg_class c
CROSS JOIN unnest($1::text[], $2::text[], $3::text[]) AS g(role, tprivs, sprivs)
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND EXISTS (
	SELECT 1 FROM unnest(string_to_array(CASE WHEN c.relkind = 'S' THEN g.sprivs ELSE g.tprivs END, ',')) AS p(priv)
	WHERE NOT CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(g.role, c.oid, p.priv)
	               ELSE pg_catalog.has_table_privilege(g.role, c.oid, p.priv) END)
GROUP BY 1, 2, 3`

	defaultACLSQL = `SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text, d.defaclobjtype::text,
	CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END, a.privilege_type
FROM pg_catalog.pg_default_acl d CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a
WHERE d.defaclnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public')`
)

// readInDB reads schema public's privileges, relation gaps and default
// privileges for roles, in one round trip.
func readInDB(ctx context.Context, conn *pgx.Conn, srv serverInfo, roles []grantSpec) (inDBState, error) {
	st := inDBState{SchemaPrivs: map[string]map[string]bool{}, Gaps: map[string]relGap{}, DefaultACL: map[string]bool{}}
	names := make([]string, len(roles))
	tprivs := make([]string, len(roles))
	sprivs := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Role
		tprivs[i] = strings.Join(tablePrivsFor(r.Access, srv.Version), ",")
		sprivs[i] = strings.Join(sequencePrivs[r.Access], ",")
	}
	b := &pgx.Batch{}
	b.Queue(schemaPrivsSQL, names).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var role string
			var usage, create bool
			if err := rows.Scan(&role, &usage, &create); err != nil {
				return err
			}
			st.SchemaExists = true
			st.SchemaPrivs[role] = map[string]bool{"USAGE": usage, "CREATE": create}
		}
		return rows.Err()
	})
	b.Queue(relGapsSQL, names, tprivs, sprivs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var role string
			var seq, grantable bool
			var n int
			var sample []string
			if err := rows.Scan(&role, &seq, &grantable, &n, &sample); err != nil {
				return err
			}
			g := st.Gaps[role]
			switch {
			case !grantable:
				g.Ungrantable = append(g.Ungrantable, sample...)
			case seq:
				g.Sequences += n
			default:
				g.Tables += n
			}
			st.Gaps[role] = g
		}
		return rows.Err()
	})
	b.Queue(defaultACLSQL).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var creator, objType, grantee, priv string
			if err := rows.Scan(&creator, &objType, &grantee, &priv); err != nil {
				return err
			}
			if len(objType) == 1 {
				st.DefaultACL[defaultACLKey(creator, objType[0], grantee, priv)] = true
			}
		}
		return rows.Err()
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return st, fmt.Errorf("read privileges in the database: %w", err)
	}
	return st, nil
}
