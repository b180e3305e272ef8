package pgtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// configureAuth writes the TLS certificate and pg_hba.conf that opts ask for.
func (c *Cluster) configureAuth(dataDir string, owner *osUser, opts Options) error {
	chown := func(p string) error {
		if owner == nil {
			return nil
		}
		return os.Chown(p, owner.uid, owner.gid)
	}
	if opts.TLS {
		caPEM, certPEM, keyPEM, err := newServerCertificate()
		if err != nil {
			return fmt.Errorf("pgtest: certificate: %w", err)
		}
		c.caFile = filepath.Join(c.dir, "ca.crt")
		for _, f := range []struct {
			name string
			data []byte
			mode os.FileMode
		}{{"ca.crt", caPEM, 0o644}, {"server.crt", certPEM, 0o644}, {"server.key", keyPEM, 0o600}} {
			p := filepath.Join(c.dir, f.name)
			if err := os.WriteFile(p, f.data, f.mode); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
			if err := chown(p); err != nil {
				return fmt.Errorf("pgtest: %w", err)
			}
		}
	}
	if opts.PasswordAuth {
		hostLine := "host    all all 127.0.0.1/32 scram-sha-256\n"
		if opts.TLS {
			hostLine = "hostssl all all 127.0.0.1/32 scram-sha-256\nhost    all all 127.0.0.1/32 reject\n"
		}
		hba := "# written by pgtest (Options.PasswordAuth)\n" +
			"local   all all trust\n" +
			"host    all postgres 127.0.0.1/32 trust\n" +
			hostLine
		p := filepath.Join(dataDir, "pg_hba.conf")
		if err := os.WriteFile(p, []byte(hba), 0o600); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err := chown(p); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	return nil
}

// newServerCertificate makes a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day.
func newServerCertificate() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pgtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// CAFile is the PEM file of the CA that signed the server certificate, for
// sslmode=verify-full; empty without Options.TLS.
func (c *Cluster) CAFile() string { return c.caFile }

// LogPath is the server log (stderr of the postmaster).
func (c *Cluster) LogPath() string { return c.logPath }

// ReadLog returns the server log from byte offset from, and the offset of
// its end (to pass as from next time).
func (c *Cluster) ReadLog(from int64) ([]byte, int64, error) {
	f, err := os.Open(c.logPath)
	if err != nil {
		return nil, from, err
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, from, err
	}
	b, err := io.ReadAll(f)
	return b, from + int64(len(b)), err
}

// LogEntry is one statement from a log written with RDSLogSettings.
type LogEntry struct {
	User, Database string
	SQL            string
}

// statementRE matches the statement lines of log_statement = 'all' under
// RDSLogSettings' prefix: simple protocol ("statement: ...") and extended
// protocol ("execute <name>: ...").
var statementRE = regexp.MustCompile(`\[\d+\] user=(\S*) db=(\S*) LOG:  (?:statement|execute [^:]*): (.*)$`)

// LogStatements parses the statements logged since offset from (the cluster
// must run with RDSLogSettings), optionally only those of one user, and
// returns the new end offset.
func (c *Cluster) LogStatements(from int64, user string) ([]LogEntry, int64, error) {
	b, end, err := c.ReadLog(from)
	if err != nil {
		return nil, end, err
	}
	var out []LogEntry
	var cur *LogEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t") && cur != nil {
			cur.SQL += "\n" + line[1:]
			continue
		}
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
		m := statementRE.FindStringSubmatch(line)
		if m == nil || (user != "" && m[1] != user) {
			continue
		}
		cur = &LogEntry{User: m[1], Database: m[2], SQL: m[3]}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, end, sc.Err()
}

// RDSLogSettings log every statement with the session's user and database,
// as an RDS parameter group with log_statement = 'all' would.
var RDSLogSettings = map[string]string{
	"log_statement":   "all",
	"log_line_prefix": "%m [%p] user=%u db=%d ",
}

// CreateRDSMaster creates a master role shaped like the one RDS gives: LOGIN
// CREATEDB CREATEROLE, not a superuser, member of pg_signal_backend (as
// rds_superuser is), owning its initial database. The password is set with
// statement logging off for that session, so it never reaches the log.
func (c *Cluster) CreateRDSMaster(ctx context.Context, user, password, database string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	u, d := pgx.Identifier{user}.Sanitize(), pgx.Identifier{database}.Sanitize()
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	for _, sql := range []string{
		"SET log_statement = 'none'",
		"CREATE ROLE " + u + " LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD " + lit,
		"GRANT pg_signal_backend TO " + u,
		"CREATE DATABASE " + d + " OWNER " + u,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("pgtest: %s: %w", strings.SplitN(sql, " PASSWORD", 2)[0], err)
		}
	}
	return nil
}

// RDSMaster is a master role made by NewRDSMaster.
type RDSMaster struct {
	User, Password, Database string
	Host                     string
	Port                     int
	CAFile                   string
}

// NewRDSMaster creates a master role with a unique name on c (see
// CreateRDSMaster), so tests sharing a cluster tell their statements apart
// by user.
func (c *Cluster) NewRDSMaster(tb testing.TB) RDSMaster {
	tb.Helper()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	var pw [18]byte
	_, _ = rand.Read(pw[:])
	m := RDSMaster{User: "master_" + suffix, Password: hex.EncodeToString(pw[:]), Database: "platform_" + suffix,
		Host: "127.0.0.1", Port: c.port, CAFile: c.caFile}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.CreateRDSMaster(ctx, m.User, m.Password, m.Database); err != nil {
		tb.Fatal(err)
	}
	return m
}

// sharedRDS is the cluster SharedRDS returns, stopped by StopShared.
var sharedRDS struct {
	mu      sync.Mutex
	cluster *Cluster
	err     error
}

// SharedRDS returns a throwaway cluster for this test binary that looks like
// an RDS instance from the outside: TLS (CAFile), SCRAM password
// authentication for every role but the superuser, and every statement
// logged with its user (LogStatements). It is started on first use
// (independently of DATABASE_URL, whose server could not be configured so)
// and stopped by Main / StopShared. Without PostgreSQL binaries the test is
// skipped, or failed when the CI environment variable is set.
func SharedRDS(tb testing.TB) *Cluster {
	tb.Helper()
	sharedRDS.mu.Lock()
	defer sharedRDS.mu.Unlock()
	if sharedRDS.cluster == nil && sharedRDS.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedRDS.cluster, sharedRDS.err = Start(ctx, Options{TLS: true, PasswordAuth: true, Settings: RDSLogSettings})
	}
	if sharedRDS.err != nil {
		if errors.Is(sharedRDS.err, ErrNoPostgres) && os.Getenv("CI") == "" {
			tb.Skip(sharedRDS.err.Error())
		}
		tb.Fatal(sharedRDS.err)
	}
	return sharedRDS.cluster
}

func stopSharedRDS() error {
	sharedRDS.mu.Lock()
	defer sharedRDS.mu.Unlock()
	if sharedRDS.cluster == nil {
		return nil
	}
	err := sharedRDS.cluster.Stop()
	sharedRDS.cluster = nil
	sharedRDS.err = errors.New("pgtest: the shared RDS-like cluster was stopped")
	return err
}
