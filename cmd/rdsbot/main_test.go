package main

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rdsbot/rdsbot"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// assertGolden compares got with a golden file (pkg/internal/golden is not
// importable from cmd).
func assertGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(want, got) {
		t.Errorf("%s differs (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// copyRepo writes the example repository into a fresh directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(rdsbot.Example(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(rdsbot.Example(), p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapshot reads every file of a directory.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func changed(before, after map[string]string) []string {
	var out []string
	for p, b := range after {
		if before[p] != b {
			out = append(out, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p+" (deleted)")
		}
	}
	sort.Strings(out)
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

func rdsbotRun(args ...string) result {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &cli{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }})
	return result{code, out.String(), errb.String()}
}

func TestRequestEachEnvironment(t *testing.T) {
	cases := map[string][]string{
		"dev":     {"envs/dev-rds/terraform.tfvars", "rds-catalog/dev.yaml"},
		"test":    {"envs/test-rds/terraform.tfvars", "envs/test/terraform.tfvars", "rds-catalog/test.yaml"},
		"staging": {"envs/staging-rds/terraform.tfvars", "rds-catalog/staging.yaml"},
		"prod":    {"envs/prod-rds/terraform.tfvars", "rds-catalog/prod.yaml"},
	}
	for env, want := range cases {
		t.Run(env, func(t *testing.T) {
			dir := copyRepo(t)
			args := []string{"request", "--repo", dir, "--database-name", "orders_service", "--username", "orders_app",
				"--environment", env, "--owner", "app-team", "--domain", "delivery", "--requester", "jane-doe",
				"--backup-retention-days", "14", "--multi-az", "true", "--id", "RDS-0042"}
			before := snapshot(t, dir)
			if r := rdsbotRun(args...); r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			mid := snapshot(t, dir)
			if got := changed(before, mid); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("changed %v, want %v", got, want)
			}
			r := rdsbotRun(args...)
			if r.code != exitOK || !strings.Contains(r.stdout, "nothing to change") {
				t.Errorf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if got := changed(mid, snapshot(t, dir)); len(got) > 0 {
				t.Errorf("second run changed %v", got)
			}
			if r := rdsbotRun("validate", "--repo", dir); r.code != exitOK {
				t.Errorf("validate after the request: exit %d\n%s", r.code, r.stdout)
			}
		})
	}
}

func TestInvalidRequestChangesNothing(t *testing.T) {
	dir := copyRepo(t)
	before := snapshot(t, dir)
	r := rdsbotRun("request", "--repo", dir, "--database-name", "Orders", "--username", "x",
		"--environment", "dev", "--size", "xlarge", "--owner", "nobody", "--domain", "cost", "--requester", "jane", "--id", "RDS-0001")
	if r.code != exitInvalid {
		t.Fatalf("exit %d, want %d", r.code, exitInvalid)
	}
	for _, want := range []string{"--database-name", "--username", "--owner", "Dev environments are limited to size=small", "4 problems"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, r.stderr)
		}
	}
	if got := changed(before, snapshot(t, dir)); len(got) > 0 {
		t.Errorf("an invalid request changed %v", got)
	}
}

func TestRequestSources(t *testing.T) {
	dir := copyRepo(t)
	src := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inputs := write("inputs.json", `{"inputs": {"base_branch": "main", "environment": "staging", "database_name": "ledger",
		"username": "ledger_app", "owner": "app-team", "user": "jane-doe", "domain": "cost", "risk": "low",
		"size": "medium", "initial_schema": "none"}, "ref": "main"}`)
	body := write("body.md", "### Database name\n\nbilling_db\n\n### Application username\n\nbilling_app\n\n### Environment\n\ndev\n\n### Owning team\n\napp-team\n\n### Domain\n\ncost\n")
	contractFile := write("RDS-0007.yaml", "id: RDS-0007\nenvironment: prod\nowner: app-team\nrequester: jane-doe\nspec:\n  databaseName: pay_db\n  username: pay_app\n  domain: cost\n  size: large\n  backupRetentionDays: 30\n  multiAz: true\n")
	for _, args := range [][]string{
		{"--inputs", inputs, "--id", "RDS-0005"},
		{"--issue-body", body, "--requester", "octocat", "--id", "RDS-0006"},
		{"--file", contractFile},
	} {
		r := rdsbotRun(append([]string{"request", "--repo", dir, "--dry-run"}, args...)...)
		if r.code != exitOK || !strings.Contains(r.stdout, "+++ b/") {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := rdsbotRun("request", "--repo", dir, "--inputs", inputs, "--file", contractFile); r.code != exitInvalid {
		t.Errorf("two sources: exit %d", r.code)
	}
	if got := changed(snapshot(t, copyRepo(t)), snapshot(t, dir)); len(got) > 0 {
		t.Errorf("--dry-run wrote %v", got)
	}
}

func TestGenCheck(t *testing.T) {
	dir := copyRepo(t)
	if r := rdsbotRun("gen", "--repo", dir, "--check"); r.code != exitOK {
		t.Fatalf("gen --check on the repository: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	enums := filepath.Join(dir, "schemas/metadata/enums.yaml")
	b, _ := os.ReadFile(enums)
	os.WriteFile(enums, bytes.Replace(b, []byte("  - database-team\n"), []byte("  - database-team\n  - data-science\n"), 1), 0o644)
	r := rdsbotRun("gen", "--repo", dir, "--check")
	if r.code != exitFailure || !strings.Contains(r.stdout, "stale: .github/ISSUE_TEMPLATE/rds-request.yml") {
		t.Errorf("stale forms not reported: exit %d\n%s", r.code, r.stdout)
	}
	if r := rdsbotRun("gen", "--repo", dir); r.code != exitOK {
		t.Fatalf("gen: %s", r.stderr)
	}
	if r := rdsbotRun("gen", "--repo", dir, "--check"); r.code != exitOK {
		t.Errorf("still stale after gen: %s", r.stdout)
	}
	form, _ := os.ReadFile(filepath.Join(dir, ".github/ISSUE_TEMPLATE/rds-request.yml"))
	if !strings.Contains(string(form), "data-science") {
		t.Error("the new owner is not in the issue form")
	}
}

func TestValidateReportsProblems(t *testing.T) {
	dir := copyRepo(t)
	main := filepath.Join(dir, "envs/prod-rds/main.tf")
	b, _ := os.ReadFile(main)
	os.WriteFile(main, bytes.Replace(b, []byte("prevent_destroy = true"), []byte("prevent_destroy = false"), 1), 0o644)
	tfv := filepath.Join(dir, "envs/test-rds/terraform.tfvars")
	b, _ = os.ReadFile(tfv)
	os.WriteFile(tfv, bytes.Replace(b, []byte(`username      = "keycloak_app"`), []byte(`username      = "keycloak_other"`), 1), 0o644)
	r := rdsbotRun("validate", "--repo", dir)
	if r.code != exitFailure {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	for _, want := range []string{
		"envs/prod-rds/main.tf:",
		"prevent_destroy",
		`envs/test/terraform.tfvars:`,
		`rds_config.application_databases["keycloak"] differs`,
		`databases.keycloak.configuration.username is "keycloak_app"`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output does not mention %q:\n%s", want, r.stdout)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands {
		r := rdsbotRun(name, "--help")
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage: rdsbot "+name) {
			t.Errorf("%s --help: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
		}
	}
	if r := rdsbotRun("--help"); r.code != exitOK || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("--help: %d %s", r.code, r.stdout)
	}
	if r := rdsbotRun("frobnicate"); r.code != exitInvalid {
		t.Errorf("unknown command: exit %d", r.code)
	}
	if r := rdsbotRun("validate", "--no-such-flag"); r.code != exitInvalid {
		t.Errorf("unknown flag: exit %d", r.code)
	}
}

// TestBinaryExitCodes runs the built binary, as a user would.
func TestBinaryExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "rdsbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := copyRepo(t)
	cmd := exec.Command(bin, "request", "--repo", dir, "--environment", "moon")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInvalid {
		t.Errorf("invalid request: %v", err)
	}
	if out, err := exec.Command(bin, "validate", "--repo", dir).CombinedOutput(); err != nil {
		t.Errorf("validate: %v\n%s", err, out)
	}
}

// TestSchemaLoadFailureIsReported: with a broken schema, `request` with
// field flags says the schema does not load (not "flag provided but not
// defined"), exits 2, and --help says where the field flags come from.
func TestSchemaLoadFailureIsReported(t *testing.T) {
	dir := copyRepo(t)
	p := filepath.Join(dir, "schemas/requests/rds.schema.yaml")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("    type: integer\n    required: false\n    minimum: 20\n    maximum: 500"), []byte("    type: integr\n    required: false\n    minimum: 20\n    maximum: 500"), 1), 0o644)
	r := rdsbotRun("request", "--repo", dir, "--database-name", "x_db", "--environment", "dev")
	if r.code != exitInvalid || strings.Contains(r.stderr, "flag provided but not defined") ||
		!strings.Contains(r.stderr, "do not load") || !strings.Contains(r.stderr, `rds.schema.yaml:`) || !strings.Contains(r.stderr, `type "integr"`) {
		t.Errorf("request on a broken schema: exit %d\n%s", r.code, r.stderr)
	}
	for _, cmd := range [][]string{{"gen", "--check"}, {"decommission", "--env", "dev", "--database", "keycloak"}} {
		r := rdsbotRun(append(append([]string{}, cmd...), "--repo", dir)...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, `type "integr"`) {
			t.Errorf("%v on a broken schema: exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
	if r := rdsbotRun("validate", "--repo", dir); r.code != exitFailure || !strings.Contains(r.stdout, `type "integr"`) {
		t.Errorf("validate on a broken schema: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = rdsbotRun("request", "--repo", dir, "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "No field flags: the configuration and schemas of") {
		t.Errorf("request --help on a broken schema: exit %d\n%s", r.code, r.stdout)
	}
	r = rdsbotRun("request", "--repo", copyRepo(t), "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "-database-name") || !strings.Contains(r.stdout, "-backup-retention-days") {
		t.Errorf("request --help in a repository lists no field flags:\n%s", r.stdout)
	}
	r = rdsbotRun("request", "--repo", t.TempDir(), "--help")
	if r.code != exitOK || !strings.Contains(r.stdout, "read from the request schema of --repo") || !strings.Contains(r.stdout, "No field flags") {
		t.Errorf("request --help outside a repository:\n%s", r.stdout)
	}
}

// TestInvalidInputExits2: a base branch that is not allowed, a reserved
// name and a duplicate JSON key are invalid input.
func TestInvalidInputExits2(t *testing.T) {
	dir := copyRepo(t)
	base := []string{"request", "--repo", dir, "--dry-run", "--username", "pay_app", "--environment", "dev",
		"--owner", "app-team", "--domain", "cost", "--requester", "jane", "--id", "RDS-0005"}
	cases := []struct {
		args []string
		want string
	}{
		{append(slices.Clone(base), "--database-name", "pay_db", "--base-branch", "development"), `baseBranch "development" is not allowed`},
		{append(slices.Clone(base), "--database-name", "postgres"), `--database-name: "postgres" is reserved`},
		{append(slices.Clone(base), "--database-name", "platform"), `the admin database of the dev instance`},
		{append(slices.Clone(base), "--database-name", "keycloak"), `rds-catalog/dev.yaml`},
	}
	for _, c := range cases {
		r := rdsbotRun(c.args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", c.args[len(c.args)-2:], r.code, c.want, r.stderr)
		}
	}
	in := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(in, []byte(`{"database_name": "a_db", "username": "a_app", "environment": "dev", "owner": "app-team",
 "user": "jane", "domain": "cost", "database_name": "b_db"}`), 0o644)
	r := rdsbotRun("request", "--repo", dir, "--dry-run", "--inputs", in, "--id", "RDS-0006")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "database_name: is given twice") {
		t.Errorf("duplicate JSON key: exit %d\n%s", r.code, r.stderr)
	}
}

// TestGenCheckUnsatisfiableRule: a rule a surface cannot satisfy fails
// `gen --check` with the rule and the surface named.
func TestGenCheckUnsatisfiableRule(t *testing.T) {
	dir := copyRepo(t)
	p := filepath.Join(dir, "schemas/requests/rds.schema.yaml")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte("    then: {field: backupRetentionDays, minimum: 14}"), []byte("    then: {field: backupRetentionDays, minimum: 36}"), 1), 0o644)
	r := rdsbotRun("gen", "--repo", dir, "--check")
	if r.code != exitFailure || !strings.Contains(r.stdout, `conditional rule "prod_requires_backup" cannot be satisfied by the issue form in environment prod`) ||
		!strings.Contains(r.stdout, "the Backstage template") {
		t.Errorf("gen --check: exit %d\n%s", r.code, r.stdout)
	}
}

// TestContractModeCLI: in the contract example a request writes its
// contract and generated files; validate passes; a hand edit of the
// generated JSON fails validate naming both files; decommission removes the
// generated files.
func TestContractModeCLI(t *testing.T) {
	dir := t.TempDir()
	err := fs.WalkDir(rdsbot.ContractExample(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(rdsbot.ContractExample(), p)
		dst := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(in, []byte(`{"inputs": {"base_branch": "main", "environment": "prod", "database_name": "pay_db", "username": "pay_app",
 "owner": "app-team", "user": "jane-doe", "domain": "cost", "risk": "low", "size": "large", "initial_schema": "none"}}`), 0o644)
	before := snapshot(t, dir)
	r := rdsbotRun("request", "--repo", dir, "--inputs", in, "--id", "RDS-0042", "--now", "2026-11-27T10:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	const gen = "envs/prod-rds/generated/RDS-0042.auto.tfvars.json"
	want := []string{"docs/20-contracts/rds-requests/prod/RDS-0042.yaml", gen,
		"gitops/kustomize/overlays/prod/apps/pay_db/externalsecrets/RDS-0042.yaml", "rds-catalog/prod.yaml"}
	after := snapshot(t, dir)
	if got := changed(before, after); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("changed %v, want %v", got, want)
	}
	// The ten Backstage inputs say nothing about backups: prod's defaults apply.
	if !strings.Contains(after[gen], `"backup_retention_period": 35`) || !strings.Contains(after[gen], `"multi_az": true`) {
		t.Errorf("prod defaults not in the generated JSON:\n%s", after[gen])
	}
	if r := rdsbotRun("validate", "--repo", dir); r.code != exitOK {
		t.Fatalf("validate: exit %d\n%s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(dir, gen), []byte(strings.Replace(after[gen], `"multi_az": true`, `"multi_az": false`, 1)), 0o644)
	r = rdsbotRun("validate", "--repo", dir)
	if r.code != exitFailure || !strings.Contains(r.stdout, gen+": does not match its contract docs/20-contracts/rds-requests/prod/RDS-0042.yaml: rds_databases.pay_db.multi_az is false, the contract gives true") {
		t.Errorf("validate after a hand edit: exit %d\n%s", r.code, r.stdout)
	}
	// Regenerating from the contract repairs it.
	if r := rdsbotRun("request", "--repo", dir, "--file", filepath.Join(dir, "docs/20-contracts/rds-requests/prod/RDS-0042.yaml")); r.code != exitOK {
		t.Fatalf("regenerate: exit %d\n%s", r.code, r.stderr)
	}
	if r := rdsbotRun("validate", "--repo", dir); r.code != exitOK {
		t.Errorf("validate after regenerating: exit %d\n%s", r.code, r.stdout)
	}
}

// copyDir copies a directory tree into a fresh directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

const originalRepo = "../../pkg/schema/testdata/original-repo"

// TestOriginalShapedRepository adopts rdsbot on a repository shaped like the
// original system's (spec §1-§4, written from its facts): its enums.yaml
// with a top-level version, its rds.schema.yaml in the original format, its
// single-file catalog keyed by database name at its original path, quoted
// coupled keys and base branch development. validate and gen --check pass
// as it is; the ten Backstage inputs become a plan against development;
// planning again changes nothing.
func TestOriginalShapedRepository(t *testing.T) {
	dir := copyDir(t, originalRepo)
	if r := rdsbotRun("validate", "--repo", dir); r.code != exitOK || !strings.Contains(r.stdout, "original format") {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rdsbotRun("gen", "--repo", dir, "--check"); r.code != exitOK {
		t.Fatalf("gen --check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	in := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(in, []byte(`{"inputs": {"base_branch": "development", "environment": "dev", "database_name": "orders_service",
 "username": "orders_app", "owner": "app-team", "user": "jane-doe", "domain": "delivery", "risk": "medium",
 "size": "small", "initial_schema": "none"}}`), 0o644)
	args := []string{"request", "--repo", dir, "--inputs", in, "--id", "RDS-0042", "--now", "2026-11-27T10:00:00Z"}
	r := rdsbotRun(append(args, "--dry-run")...)
	if r.code != exitOK {
		t.Fatalf("request: exit %d\n%s", r.code, r.stderr)
	}
	assertGolden(t, "testdata/original-plan.golden", []byte(r.stdout+"\n"+r.stderr))
	if !strings.Contains(r.stderr, "branch rds/dev/orders_service -> development") {
		t.Errorf("not planned against development:\n%s", r.stderr)
	}
	if r := rdsbotRun(args...); r.code != exitOK {
		t.Fatalf("request: exit %d\n%s", r.code, r.stderr)
	}
	if r := rdsbotRun(args...); r.code != exitOK || !strings.Contains(r.stdout, "nothing to change") {
		t.Errorf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := rdsbotRun("validate", "--repo", dir); r.code != exitOK {
		t.Errorf("validate after the request: exit %d\n%s", r.code, r.stdout)
	}

	// The same name in another environment is refused: the single file is
	// keyed by database name.
	r = rdsbotRun("request", "--repo", dir, "--dry-run", "--database-name", "orders_service", "--username", "orders_rw",
		"--environment", "staging", "--owner", "app-team", "--domain", "delivery", "--requester", "jane-doe", "--id", "RDS-0043",
		"--base-branch", "development")
	if r.code != exitInvalid {
		t.Errorf("the same name in staging: exit %d\n%s", r.code, r.stderr)
	}

	// With coupled mode on, the coupled map keeps its quoted keys.
	coupled := copyDir(t, originalRepo)
	tfv := filepath.Join(coupled, "envs/dev/terraform.tfvars")
	b, _ := os.ReadFile(tfv)
	os.WriteFile(tfv, bytes.Replace(b, []byte("enabled               = false"), []byte("enabled               = true"), 1), 0o644)
	r = rdsbotRun("request", "--repo", coupled, "--inputs", in, "--id", "RDS-0042", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, `+    "orders_service" = {`) {
		t.Errorf("coupled, quoted keys: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestOriginalEmptyCatalog: at the original's HEAD the catalog holds
// `databases: {}` while the tfvars has two entries; validate names exactly
// those two gaps.
func TestOriginalEmptyCatalog(t *testing.T) {
	dir := copyDir(t, originalRepo)
	cat := filepath.Join(dir, "docs/20-contracts/resource-catalogs/rds-catalog.yaml")
	b, _ := os.ReadFile(cat)
	head := string(b[:bytes.Index(b, []byte("databases:"))]) + "databases: {}\n"
	os.WriteFile(cat, []byte(head), 0o644)
	r := rdsbotRun("validate", "--repo", dir)
	if r.code != exitFailure || strings.Count(r.stdout, "has no catalog entry in docs/20-contracts/resource-catalogs/rds-catalog.yaml") != 2 {
		t.Errorf("validate: exit %d\n%s", r.code, r.stdout)
	}
}
