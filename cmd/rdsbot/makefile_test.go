package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// TestMakeDeployCoupledPath runs the Makefile's coupled path as an operator
// would: `make deploy ENV=test` = terraform apply of envs/test (a stand-in
// executable that records its arguments), then rds-provision-auto (coupled
// mode detected, databases provisioned on an RDS-shaped server), then
// bootstrap. Without terraform the targets say so and provision nothing.
func TestMakeDeployCoupledPath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs make")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	makefile, err := filepath.Abs(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	c := pgtest.SharedRDS(t)
	m := c.NewRDSMaster(t)
	suffix := strings.TrimPrefix(m.User, "master_")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "rdsbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	repo := copyRepo(t)
	db, user := "kc_"+suffix, "kc_app_"+suffix
	tfv := fmt.Sprintf(`environment       = "test"
aws_region        = "eu-west-2"
cluster_lifecycle = "persistent"
build_id          = "persistent"

rds_config = {
  enabled = true # coupled
  application_databases = {
    "keycloak" = {
      database_name = %q
      username      = %q
    }
  }
}
`, db, user)
	if err := os.WriteFile(filepath.Join(repo, "envs", "test", "terraform.tfvars"), []byte(tfv), 0o644); err != nil {
		t.Fatal(err)
	}
	secretDir := filepath.Join(tmp, "secrets")
	store, err := secrets.NewFile(secretDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	master := secrets.Credentials{Username: m.User, Password: m.Password, Host: m.Host, Port: m.Port, DBName: m.Database}
	appPW := "make-" + suffix
	if _, err := store.Create(ctx, "goldenpath/test/rds/master", master.JSON(), secrets.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, "goldenpath/test/keycloak/postgres", secrets.Credentials{Username: user, Password: appPW}.JSON(), secrets.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	standin := filepath.Join(tmp, "bin")
	if err := os.MkdirAll(standin, 0o755); err != nil {
		t.Fatal(err)
	}
	tfLog := filepath.Join(tmp, "terraform.calls")
	script := "#!/bin/sh\necho \"$PWD terraform $*\" >> \"$TF_STANDIN_LOG\"\necho \"stand-in terraform: $*\"\n"
	if err := os.WriteFile(filepath.Join(standin, "terraform"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	makeRun := func(path string, env []string, args ...string) (string, error) {
		cmd := exec.Command("make", append([]string{"--no-print-directory", "-f", makefile, "-C", repo}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+path, "TF_STANDIN_LOG="+tfLog)
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	sysPath := os.Getenv("PATH")
	vars := []string{"ENV=test", "RDSBOT=" + bin, "SECRETS=file:" + secretDir, "BUILD_ID=b-42", "BOOTSTRAP=echo bootstrapped",
		"PROVISION_FLAGS=--sslmode verify-full --sslrootcert " + m.CAFile}

	// Without terraform: a plain message, nothing provisioned.
	out, err := makeRun("/usr/bin:/bin", []string{"ALLOW_DB_PROVISION=true"}, append([]string{"deploy"}, vars...)...)
	if err == nil || !strings.Contains(out, "apply: terraform (or tofu) is not installed") {
		t.Fatalf("deploy without terraform: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(repo, "governance")); err == nil {
		t.Fatal("provisioning ran although apply failed")
	}

	// The dry run needs neither terraform nor a server.
	out, err = makeRun("/usr/bin:/bin", nil, "rds-provision-auto-dry-run", "ENV=test", "RDSBOT="+bin)
	if err != nil || !strings.Contains(out, "coupled mode") || !strings.Contains(out, `CREATE DATABASE "`+db+`"`) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}

	// Non-dev without ALLOW_DB_PROVISION: apply runs, provisioning refuses.
	out, err = makeRun(standin+":"+sysPath, []string{"ALLOW_DB_PROVISION="}, append([]string{"deploy"}, vars...)...)
	if err == nil || !strings.Contains(out, "ALLOW_DB_PROVISION=true") {
		t.Fatalf("deploy without approval: %v\n%s", err, out)
	}

	// The whole coupled path.
	out, err = makeRun(standin+":"+sysPath, []string{"ALLOW_DB_PROVISION=true"}, append([]string{"deploy"}, vars...)...)
	if err != nil {
		t.Fatalf("make deploy: %v\n%s", err, out)
	}
	iApply := strings.Index(out, "stand-in terraform: -chdir=envs/test apply -auto-approve")
	iProv := strings.Index(out, "created        keycloak ("+db+"/"+user)
	iBoot := strings.Index(out, "bootstrapped")
	if iApply < 0 || iProv < iApply || iBoot < iProv {
		t.Fatalf("deploy did not run apply, provision, bootstrap in order:\n%s", out)
	}
	calls, _ := os.ReadFile(tfLog)
	if !strings.Contains(string(calls), repo+" terraform -chdir=envs/test apply -auto-approve") {
		t.Errorf("terraform calls:\n%s", calls)
	}
	audit, err := os.ReadFile(filepath.Join(repo, "governance", "test", "rds_provision_audit.csv"))
	if err != nil || !strings.Contains(string(audit), ",test,b-42,local,"+db+","+user+",create_role,success,") {
		t.Errorf("audit trail (%v):\n%s", err, audit)
	}
	if err := loginApp(t, m, user, appPW, db); err != nil {
		t.Errorf("login after make deploy: %v", err)
	}
	noSecretIn(t, "make output", out, m.Password, appPW)

	// Again: nothing to provision.
	out, err = makeRun(standin+":"+sysPath, []string{"ALLOW_DB_PROVISION=true"}, append([]string{"rds-provision-auto"}, vars...)...)
	if err != nil || !strings.Contains(out, "0 DDL statement(s)") {
		t.Errorf("second rds-provision-auto: %v\n%s", err, out)
	}
}
