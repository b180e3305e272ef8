package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// Admin says how to reach the instance as its master user. The master
// secret gives username and password, and host, port and dbname when it has
// them (Terraform's does; RDS's own managed secret does not): fields set
// here win over the secret's.
type Admin struct {
	Host     string
	Port     int
	Database string // default: the secret's dbname, else "postgres"
	// SSLMode is require (the default), verify-ca, verify-full or disable.
	// verify-* need RootCAFile (RDS publishes its CA bundle).
	SSLMode    string
	RootCAFile string
	// ConnectTimeout bounds one connection attempt (default 10s).
	ConnectTimeout time.Duration
	// RetryFor is how long a refused or timed-out connection is retried
	// with backoff, while a fresh instance comes up (default 2m; negative
	// turns retries off).
	RetryFor time.Duration
}

// adminTarget is the resolved connection: everything but the password is
// safe to log.
type adminTarget struct {
	Host, User, Database, SSLMode, RootCAFile string
	Port                                      int
	Timeout                                   time.Duration
	password                                  string
}

func resolveAdmin(a Admin, c secrets.Credentials, masterSecret string) (adminTarget, error) {
	t := adminTarget{Host: c.Host, Port: c.Port, User: c.Username, Database: c.DBName, SSLMode: a.SSLMode,
		RootCAFile: a.RootCAFile, Timeout: a.ConnectTimeout, password: c.Password}
	if a.Host != "" {
		t.Host = a.Host
	}
	if a.Port != 0 {
		t.Port = a.Port
	}
	if a.Database != "" {
		t.Database = a.Database
	}
	if t.Database == "" {
		t.Database = "postgres"
	}
	if t.Port == 0 {
		t.Port = 5432
	}
	if t.SSLMode == "" {
		t.SSLMode = "require"
	}
	if t.Timeout <= 0 {
		t.Timeout = 10 * time.Second
	}
	var errs []error
	if missing := c.Missing("username", "password"); len(missing) > 0 {
		errs = append(errs, fmt.Errorf("master secret %s is missing %s", masterSecret, strings.Join(missing, ", ")))
	}
	if t.Host == "" {
		errs = append(errs, fmt.Errorf("master secret %s has no host; give the instance's address (--host)", masterSecret))
	}
	switch t.SSLMode {
	case "require", "disable":
	case "verify-ca", "verify-full":
		if t.RootCAFile == "" {
			errs = append(errs, fmt.Errorf("sslmode %s needs a CA bundle (--sslrootcert), for RDS its global bundle", t.SSLMode))
		}
	default:
		errs = append(errs, fmt.Errorf("sslmode %q must be require, verify-ca, verify-full or disable", t.SSLMode))
	}
	if strings.ContainsAny(t.Host+t.User+t.Database+t.RootCAFile, "\x00\n") {
		errs = append(errs, errors.New("connection settings contain control characters"))
	}
	return t, errors.Join(errs...)
}

// dsnValue quotes a keyword/value connection string value.
func dsnValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// dsn is the keyword/value string for database db, without the password
// (which is set on the parsed config, so it is never in a string).
func (t adminTarget) dsn(db string) string {
	parts := []string{
		"host=" + dsnValue(t.Host), "port=" + strconv.Itoa(t.Port), "user=" + dsnValue(t.User),
		"dbname=" + dsnValue(db), "sslmode=" + t.SSLMode,
		"connect_timeout=" + strconv.Itoa(max(1, int(t.Timeout/time.Second))),
		"application_name=rdsbot-provision",
	}
	if t.RootCAFile != "" {
		parts = append(parts, "sslrootcert="+dsnValue(t.RootCAFile))
	}
	return strings.Join(parts, " ")
}

func (t adminTarget) connConfig(db string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(t.dsn(db))
	if err != nil {
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	cfg.Password = t.password
	return cfg, nil
}

func (t adminTarget) String() string {
	return fmt.Sprintf("%s@%s:%d/%s (sslmode %s)", t.User, t.Host, t.Port, t.Database, t.SSLMode)
}

// openPool connects to the admin database, retrying while the server
// refuses connections, times out, is not resolvable yet, or is starting up.
func openPool(ctx context.Context, t adminTarget, size int, retryFor time.Duration, log *slog.Logger) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(t.dsn(t.Database))
	if err != nil {
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	cfg.ConnConfig.Password = t.password
	cfg.MaxConns = int32(size)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if retryFor == 0 {
		retryFor = 2 * time.Minute
	}
	ping := func() (struct{}, error) {
		err := pool.Ping(ctx)
		if err != nil && !retryableConnectError(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}
	opts := []backoff.RetryOption{backoff.WithNotify(func(err error, d time.Duration) {
		log.Info("database not reachable yet; retrying", "target", t.String(), "in", d.Round(time.Millisecond), "error", err)
	})}
	if retryFor < 0 {
		opts = append(opts, backoff.WithMaxTries(1))
	} else {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 500 * time.Millisecond
		b.MaxInterval = 10 * time.Second
		opts = append(opts, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(retryFor))
	}
	if _, err := backoff.Retry(ctx, ping, opts...); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", t, err)
	}
	return pool, nil
}

// retryableConnectError: the server is not there yet, as opposed to a
// refusal that will not change (authentication, TLS, a missing database).
func retryableConnectError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03" // cannot_connect_now: starting up
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsNotFound || dnsErr.IsTimeout || dnsErr.IsTemporary
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
