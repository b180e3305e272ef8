package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/provision"
	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/secrets"
	"github.com/rdsbot/rdsbot/pkg/secrets/smfake"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func rdsbotEnv(env map[string]string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &cli{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }})
	return result{code, out.String(), errb.String()}
}

func loginApp(t *testing.T, m pgtest.RDSMaster, user, password, db string) error {
	t.Helper()
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: fmt.Sprintf("%s:%d", m.Host, m.Port), Path: "/" + db,
		RawQuery: url.Values{"sslmode": {"verify-full"}, "sslrootcert": {m.CAFile}}.Encode()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS cli_check (id int)")
	return err
}

func noSecretIn(t *testing.T, what, text string, passwords ...string) {
	t.Helper()
	for _, p := range passwords {
		if strings.Contains(text, p) {
			t.Errorf("%s contains a password", what)
		}
	}
}

// TestProvisionCommandFileStore runs `rdsbot provision` on the example
// repository's dev environment (standalone tfvars) with the file secret
// store, against an RDS-shaped server: provision, rerun without DDL,
// audit trail, decommission.
func TestProvisionCommandFileStore(t *testing.T) {
	c := pgtest.SharedRDS(t)
	m := c.NewRDSMaster(t)
	repo := copyRepo(t)
	secretDir := t.TempDir()
	store, err := secrets.NewFile(secretDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	master := secrets.Credentials{Username: m.User, Password: m.Password, Host: m.Host, Port: m.Port, DBName: m.Database, Engine: "postgres"}
	if _, err := store.Create(ctx, "goldenpath/dev/rds/master", master.JSON(), secrets.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	passwords := map[string]string{"keycloak_user": "kc-" + strconv.FormatInt(time.Now().UnixNano(), 36), "backstage_user": "bs-" + strconv.FormatInt(time.Now().UnixNano()+1, 36)}
	for key, user := range map[string]string{"keycloak": "keycloak_user", "backstage": "backstage_user"} {
		cr := secrets.Credentials{Username: user, Password: passwords[user]}
		if _, err := store.Create(ctx, "goldenpath/dev/"+key+"/postgres", cr.JSON(), secrets.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	all := []string{m.Password, passwords["keycloak_user"], passwords["backstage_user"]}
	args := []string{"provision", "--repo", repo, "--env", "dev", "--secrets", "file:" + secretDir,
		"--sslmode", "verify-full", "--sslrootcert", m.CAFile, "--build-id", "ci-7", "--run-id", "run-1", "--verbose"}

	r := rdsbotEnv(nil, args...)
	if r.code != exitOK {
		t.Fatalf("provision: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "created        keycloak (keycloak/keycloak_user, owner)") || !strings.Contains(r.stdout, "standalone mode") {
		t.Errorf("output:\n%s", r.stdout)
	}
	noSecretIn(t, "output", r.stdout+r.stderr, all...)
	for user, pw := range passwords {
		db := strings.TrimSuffix(user, "_user")
		if err := loginApp(t, m, user, pw, db); err != nil {
			t.Errorf("%s: %v", user, err)
		}
	}

	// Rerun: no DDL, every entry unchanged.
	r = rdsbotEnv(nil, append(args, "--json")...)
	if r.code != exitOK {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var rep provision.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.DDL != 0 || len(rep.Results) != 2 || rep.Results[0].Outcome != provision.Unchanged {
		t.Errorf("rerun report: DDL %d, results %+v", rep.DDL, rep.Results)
	}

	// The audit trail: exact header once, RFC 4180, build and run ids.
	b, err := os.ReadFile(filepath.Join(repo, "governance", "dev", "rds_provision_audit.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != audit.Header || len(recs) < 10 {
		t.Fatalf("audit file:\n%s", b)
	}
	for _, rec := range recs[1:] {
		if rec[1] != "dev" || rec[2] != "ci-7" || rec[3] != "run-1" {
			t.Errorf("audit row %q", rec)
		}
	}
	noSecretIn(t, "audit trail", string(b), all...)

	// Decommission backstage.
	r = rdsbotEnv(nil, "provision", "--repo", repo, "--env", "dev", "--secrets", "file:"+secretDir,
		"--sslmode", "verify-full", "--sslrootcert", m.CAFile, "--decommission", "backstage:backstage_user")
	if r.code != exitOK || !strings.Contains(r.stdout, "decommissioned") {
		t.Fatalf("decommission: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := loginApp(t, m, "backstage_user", passwords["backstage_user"], "backstage"); err == nil {
		t.Error("backstage_user still logs in")
	}
	log, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	noSecretIn(t, "server log", string(log), all...)
}

// TestProvisionCommandAWS: the master secret is RDS's own (username and
// password only, host and port from flags), read through aws-sdk-go-v2 from
// smfake; a non-dev environment needs ALLOW_DB_PROVISION=true; entries come
// from a coupled tfvars file with quoted keys.
func TestProvisionCommandAWS(t *testing.T) {
	c := pgtest.SharedRDS(t)
	m := c.NewRDSMaster(t)
	fake := smfake.New(smfake.Options{Credentials: map[string]string{"AKIDCLI": "cli-secret"}})
	ts := httptest.NewServer(fake)
	defer ts.Close()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDCLI", "AWS_SECRET_ACCESS_KEY": "cli-secret", "AWS_SESSION_TOKEN": "", "AWS_REGION": "",
		"AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL_SECRETS_MANAGER": ts.URL, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	suffix := strings.TrimPrefix(m.User, "master_")
	fake.Seed("goldenpath/test/rds/master", fmt.Sprintf(`{"username":%q,"password":%q}`, m.User, m.Password))
	appPW := "app-" + suffix
	fake.Seed("goldenpath/test/orders/postgres", fmt.Sprintf(`{"username":"orders_%s","password":%q,"host":"x","port":"5432","dbname":"orders_%s","engine":"postgres"}`, suffix, appPW, suffix))
	tfv := filepath.Join(t.TempDir(), "terraform.tfvars")
	if err := os.WriteFile(tfv, []byte(fmt.Sprintf(`aws_region = "eu-west-2"
rds_config = {
  enabled = true
  application_databases = {
    "orders" = {
      database_name = "orders_%s"
      username      = "orders_%s"
    }
  }
}
`, suffix, suffix)), 0o644); err != nil {
		t.Fatal(err)
	}
	auditFile := filepath.Join(t.TempDir(), "audit.csv")
	args := []string{"provision", "--repo", copyRepo(t), "--env", "test", "--tfvars", tfv, "--audit-output", auditFile,
		"--host", m.Host, "--port", strconv.Itoa(m.Port), "--dbname", m.Database, "--sslmode", "verify-full", "--sslrootcert", m.CAFile}

	r := rdsbotEnv(nil, args...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "ALLOW_DB_PROVISION=true") {
		t.Fatalf("without approval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if fake.Calls("") != 0 {
		t.Errorf("the store was called %d times before the approval gate", fake.Calls(""))
	}
	r = rdsbotEnv(map[string]string{"ALLOW_DB_PROVISION": "TRUE"}, args...)
	if r.code != exitOK {
		t.Fatalf("with approval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := loginApp(t, m, "orders_"+suffix, appPW, "orders_"+suffix); err != nil {
		t.Errorf("login: %v", err)
	}
	if fake.Calls("GetSecretValue") != 2 || fake.Calls("DescribeSecret") != 1 {
		t.Errorf("calls: GetSecretValue %d, DescribeSecret %d", fake.Calls("GetSecretValue"), fake.Calls("DescribeSecret"))
	}
	noSecretIn(t, "output", r.stdout+r.stderr, m.Password, appPW)
	if b, _ := os.ReadFile(auditFile); !strings.HasPrefix(string(b), audit.Header) {
		t.Errorf("audit file:\n%s", b)
	}
}

func TestProvisionCommandDryRun(t *testing.T) {
	repo := copyRepo(t)
	r := rdsbotEnv(nil, "provision", "--repo", repo, "--env", "test", "--dry-run")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"coupled mode", `CREATE ROLE "keycloak_app"`, "PASSWORD '<redacted>'", `CREATE DATABASE "backstage_plugin_catalog" OWNER "backstage_app"`, "6 dry run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "governance")); err == nil {
		t.Error("a dry run wrote the audit trail without --audit-output")
	}
	for _, bad := range [][]string{
		{"provision"},
		{"provision", "--env", "../x"},
		{"provision", "--env", "dev", "--mode", "sideways", "--dry-run"},
		{"provision", "--env", "dev", "--decommission", "nocolon"},
	} {
		if r := rdsbotEnv(nil, append(bad, "--repo", repo)...); r.code != exitInvalid {
			t.Errorf("%v: exit %d\n%s", bad, r.code, r.stderr)
		}
	}
}
