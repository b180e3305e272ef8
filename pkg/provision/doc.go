// Package provision creates the roles, databases and grants that the
// application_databases entries of an environment ask for, on a PostgreSQL
// server reached as its RDS master user (not a superuser), and disables them
// on decommission. It replaces the original rds_provision.py and fixes its
// defects (spec §7, §11 G-12 to G-14, G-17).
//
// # API
//
// Run(ctx, Options) provisions; Decommission(ctx, Options) disables. Both
// return a Report (entries' outcomes, statements with passwords redacted,
// DDL count, audit rows) even when they fail. Options carry the entries
// (ReadEntries / LoadEntries / ResolveSource read them from tfvars through
// pkg/tfvars), the secret store (pkg/secrets), connection overrides,
// Approved (required outside dev), DryRun, ContinueOnError (fail-fast is the
// default), build and run ids, and an audit sink (pkg/provision/audit).
//
// # What a run does
//
//  1. Reads the master secret and connects (TLS require by default,
//     verify-full with a CA bundle; refused connections are retried with
//     backoff while a fresh instance comes up). The admin must have
//     CREATEROLE and CREATEDB.
//  2. Reads the state of every role and database in two catalogue queries
//     (pg_roles, pg_database; never pg_authid, which RDS's master cannot
//     read). A database owned by another role, or an existing role without
//     rdsbot's mark (and not adopted), blocks: with fail-fast nothing at all
//     is changed, and every blocker is reported.
//  3. Per database, in parallel on a small pool:
//     - Describes each entry's secret (version id only). The value is read
//     only when the password must be set: the role is new, its mark
//     records another version, or it was decommissioned.
//     - Roles, in one transaction under pg_advisory_xact_lock on each role,
//     taken in one fixed order (sorted keys), the state read again under
//     the locks: CREATE ROLE (LOGIN, CREATEDB where configured, never
//     SUPERUSER, CREATEROLE, REPLICATION or BYPASSRLS) or ALTER ROLE for
//     the difference, the password as a SCRAM-SHA-256 verifier computed
//     here (ScramVerifier), so the server's statement log never holds a
//     password; GRANT role TO CURRENT_USER (… WITH INHERIT TRUE, SET TRUE
//     on 16+) so that the non-superuser admin may create the database for
//     it and grant as its owner; COMMENT ON ROLE with the mark
//     "rdsbot: managed role; secret=…; version=…; state=active".
//     - CREATE DATABASE … OWNER, outside any transaction; 42P04 (created
//     meanwhile) is success, as 42710 is for roles.
//     - Under the database's lock: REVOKE ALL ON DATABASE … FROM PUBLIC and
//     GRANT CONNECT to the entries' roles.
//     - Inside the target database, under its own lock: privileges on schema
//     public, on the tables and sequences already there, and default
//     privileges for what the admin (and, for editors and readers, the
//     owner) creates later; then COMMENT ON DATABASE with a fingerprint of
//     these grants. A rerun whose fingerprint matches does not connect to
//     the database (VerifyGrants forces the check and repairs drift).
//
// A second run with nothing changed issues no DDL and reads no secret value.
// Statements are built from validated names, every identifier quoted.
// Nothing is ever dropped.
//
// # Access levels
//
// An entry is owner (the default; its role owns the database), editor
// (SELECT, INSERT, UPDATE, DELETE; sequences USAGE, SELECT) or reader
// (SELECT), from the optional access_level attribute. A database has exactly
// one owner entry; editor and reader entries name the same database with
// their own role and secret.
package provision
