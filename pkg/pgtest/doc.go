// Package pgtest gives tests a real, empty PostgreSQL database.
//
// New returns the URL of a database created for one test and dropped when the
// test ends. Where the database lives depends on the environment:
//
//   - DATABASE_URL set: that server is used; New creates a uniquely named
//     database on it per test. The URL must be a postgres:// URL of a role
//     allowed to CREATE DATABASE.
//   - DATABASE_URL unset: the first call to New starts a throwaway cluster for
//     the whole test binary (initdb into a temporary directory, a free port on
//     127.0.0.1, the Unix socket inside that directory, fsync off), and every
//     test gets its own database inside it. A machine-wide server, if any, is
//     never used.
//
// Packages that use New should call Main from TestMain so the cluster is shut
// down and its directory removed when the tests finish:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The cluster cannot outlive the test binary even when Main does not get to run
// (a panicking test, a timeout, SIGKILL): the postmaster is a direct child of
// the test process started with a parent-death signal, and directories left
// behind by dead test binaries are removed by the next Start.
//
// initdb refuses to run as root. When the effective user is root, as on the
// development machine and in CI, the cluster's files are owned by, and initdb
// and postgres run as, the "postgres" system user. When no initdb can be found
// (PGTEST_BINDIR, /usr/lib/postgresql/*/bin, then PATH) New skips the test, or
// fails it when the CI environment variable is set.
//
// Start and Cluster are the same machinery for callers that need a cluster of
// their own, for example a benchmark that wants fsync on.
//
// SharedRDS is a second shared cluster that looks like an RDS instance from
// outside, for provisioning tests: TLS with a certificate generated in Go,
// SCRAM password authentication for every role but the superuser, and every
// statement logged with its user. NewRDSMaster creates a master role shaped
// like RDS's (LOGIN CREATEDB CREATEROLE, no superuser) on it, and
// LogStatements reads back what a role sent.
package pgtest
