package apply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/apply"
	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// exampleTree is path -> sha256 of the example repository's files.
func exampleTree(t *testing.T, changed map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(rdsbot.Example(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(rdsbot.Example(), p)
		out[p] = sum(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, c := range changed {
		out[p] = sum([]byte(c))
	}
	return out
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func treeOf(c tfstandin.Call) map[string]string {
	out := map[string]string{}
	for _, f := range c.Files {
		out[f.Path] = f.SHA256
	}
	return out
}

func cmds(calls []tfstandin.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Args[0])
	}
	return out
}

// TestLocalApply runs the local runner end to end with the stand-in: the
// arguments terraform gets, its scrubbed environment, its working tree
// (exactly the commit's files, nothing else on disk), the saved plan
// applied, the state carried to the next apply, and the directory removed.
func TestLocalApply(t *testing.T) {
	e := newEnv(t)
	// rdsbot's own environment holds things terraform must never see.
	t.Setenv("TF_CLI_CONFIG_FILE", "/nowhere/terraformrc")
	t.Setenv("GITHUB_TOKEN", "ghs_decoy_token_value")
	t.Setenv("RDSBOT_WEBHOOK_SECRET", "decoy-webhook-secret")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE0001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-example-secret")
	t.Setenv("AWS_PROFILE", "not-passed")
	e.cfg.Terraform.Env["TF_STANDIN_TREE_UP"] = "2" // record the whole checkout from envs/dev-rds
	var log bytes.Buffer
	ctx := context.Background()
	o, err := e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base, RequestIDs: []string{"RDS-0042"}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != apply.Succeeded || len(o.Roots) != 1 || o.Roots[0].Root != "envs/dev-rds" {
		t.Fatalf("outcome %s (%s)\n%s", o.Status, o.Reason, log.String())
	}
	calls := e.calls()
	if got := cmds(calls); !slices.Equal(got, []string{"init", "plan", "apply"}) {
		t.Fatalf("commands %v", got)
	}
	want := [][]string{
		{"init", "-input=false", "-no-color", "-lock-timeout=5m0s", "-backend-config=bucket=goldenpath-idp-dev-bucket",
			"-backend-config=dynamodb_table=goldenpath-idp-dev-db-key", "-backend-config=encrypt=true",
			"-backend-config=key=envs/dev-rds/terraform.tfstate", "-backend-config=region=eu-west-2"},
		{"plan", "-input=false", "-no-color", "-lock-timeout=5m0s", "-out=tfplan", "-json"},
		{"apply", "-input=false", "-no-color", "-lock-timeout=5m0s", "-json", "tfplan"},
	}
	for i, c := range calls {
		if !slices.Equal(c.Args, want[i]) {
			t.Errorf("call %d: %q\nwant %q", i, c.Args, want[i])
		}
		if !strings.HasPrefix(c.Dir, e.work) || !strings.HasSuffix(c.Dir, "/src/envs/dev-rds") {
			t.Errorf("call %d ran in %s", i, c.Dir)
		}
		// The environment: exactly what the runner gives, nothing inherited.
		var names []string
		for k := range c.Env {
			names = append(names, k)
		}
		slices.Sort(names)
		wantNames := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CHECKPOINT_DISABLE", "HOME", "PATH",
			"TF_INPUT", "TF_IN_AUTOMATION", "TF_PLUGIN_CACHE_DIR", "TF_STANDIN_TREE_UP", "TMPDIR"}
		if !slices.Equal(names, wantNames) {
			t.Errorf("call %d environment %v\nwant %v", i, names, wantNames)
		}
		if c.Env["TF_IN_AUTOMATION"] != "1" || c.Env["TF_INPUT"] != "0" || c.Env["PATH"] != apply.DefaultPath ||
			c.Env["AWS_ACCESS_KEY_ID"] != "AKIAEXAMPLE0001" || c.Env["AWS_SECRET_ACCESS_KEY"] != "sha256:"+sum([]byte("wJalrXUtnFEMI-example-secret")) ||
			!strings.HasPrefix(c.Env["HOME"], e.work) || !strings.HasPrefix(c.Env["TMPDIR"], e.work) {
			t.Errorf("call %d environment %v", i, c.Env)
		}
	}
	// The working tree is the commit's files and nothing else: no .git, no
	// credentials; init's lock file and the saved plan appear after.
	repoTree := exampleTree(t, nil)
	if got := treeOf(calls[0]); !mapsEqual(got, repoTree) {
		t.Errorf("checkout differs from the commit:\n%s", treeDiff(got, repoTree))
	}
	applyTree := treeOf(calls[2])
	if applyTree["envs/dev-rds/tfplan"] == "" || applyTree["envs/dev-rds/.terraform.lock.hcl"] == "" || len(applyTree) != len(repoTree)+2 {
		t.Errorf("apply's tree: %d files, tfplan %q", len(applyTree), applyTree["envs/dev-rds/tfplan"])
	}
	plan := o.Roots[0].Plan
	if plan == nil || plan.Add == 0 || plan.Destroy != 0 || !plan.Passed() {
		t.Fatalf("plan %+v", plan)
	}
	if a := o.Roots[0].Applied; a == nil || a.Add != plan.Add {
		t.Errorf("applied %+v, plan adds %d", a, plan.Add)
	}
	if !strings.Contains(log.String(), "Apply complete! Resources: ") || strings.Contains(log.String(), `"@level"`) {
		t.Errorf("log:\n%s", log.String())
	}
	if strings.Contains(log.String(), "wJalrXUtnFEMI") || strings.Contains(o.Excerpt, "wJalrXUtnFEMI") {
		t.Error("a secret reached the log")
	}
	assertEmpty(t, e.work)

	// Same commit again: the state holds everything, nothing to do.
	o, err = e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil || o.Status != apply.Succeeded {
		t.Fatalf("second apply: %v %v", o, err)
	}
	if p := o.Roots[0].Plan; p.Add+p.Change+p.Destroy != 0 || len(p.Changes) != 0 {
		t.Errorf("second plan %+v", p)
	}

	// A new request on main: the checkout is the new commit, the plan adds its three resources.
	tfvars, _ := fs.ReadFile(rdsbot.Example(), "envs/dev-rds/terraform.tfvars")
	changed := strings.Replace(string(tfvars), "application_databases = {", "application_databases = {\n  orders = {\n    database_name = \"orders\"\n    username      = \"orders_app\"\n  },", 1)
	sha, err := e.fake.As("alice").Push(repo, "main", githubfake.Change{Files: map[string]string{"envs/dev-rds/terraform.tfvars": changed}})
	if err != nil {
		t.Fatal(err)
	}
	o, err = e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: sha})
	if err != nil || o.Status != apply.Succeeded {
		t.Fatalf("third apply: %v %v", o, err)
	}
	calls = e.calls()
	if got := treeOf(calls[len(calls)-3]); !mapsEqual(got, exampleTree(t, map[string]string{"envs/dev-rds/terraform.tfvars": changed})) {
		t.Errorf("third checkout is not the new commit")
	}
	var addrs []string
	for _, c := range o.Roots[0].Plan.Changes {
		addrs = append(addrs, c.Action+" "+c.Address)
	}
	wantAddrs := []string{`create aws_secretsmanager_secret.app["orders"]`, `create aws_secretsmanager_secret_version.app["orders"]`, `create random_password.app["orders"]`}
	if !slices.Equal(addrs, wantAddrs) {
		t.Errorf("third plan %v", addrs)
	}
	assertEmpty(t, e.work)
}

// A plan that destroys a protected resource is never applied; Plan reports
// it with the full plan text.
func TestLocalRefusesProtectedDestroy(t *testing.T) {
	e := newEnv(t)
	e.control(tfstandin.Control{Destroy: []string{"aws_db_instance.platform"}})
	ctx := context.Background()
	o, err := e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != apply.Refused || !strings.Contains(o.Reason, "protected") {
		t.Fatalf("outcome %s: %s", o.Status, o.Reason)
	}
	if got := cmds(e.calls()); !slices.Equal(got, []string{"init", "plan"}) {
		t.Fatalf("commands %v: a refused plan was applied", got)
	}
	b := o.Roots[0].Plan.Blocked()
	if len(b) != 1 || b[0].Address != "aws_db_instance.platform" || b[0].Action != "delete" {
		t.Fatalf("blocked %+v", b)
	}
	// A decommission may remove secrets, never the instance.
	o, err = e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base, AllowDestroy: []string{"*"}})
	if err != nil || o.Status != apply.Refused {
		t.Fatalf("allowed instance destroy: %v %v", o, err)
	}

	o, err = e.local().Plan(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil || o.Status != apply.Refused {
		t.Fatalf("plan: %v %v", o, err)
	}
	if got := cmds(e.calls())[4:]; !slices.Equal(got, []string{"init", "plan", "show"}) {
		t.Errorf("plan commands %v", got)
	}
	text := o.Roots[0].PlanText
	if !strings.Contains(text, "# aws_db_instance.platform will be destroyed") || !strings.Contains(text, "Plan: ") {
		t.Errorf("plan text:\n%s", text)
	}
	report := apply.Report(o, apply.ReportOptions{})
	if !strings.Contains(report, "**blocked**: protected by `aws_db_instance`") || !strings.Contains(report, "<details><summary>Full plan of <code>envs/dev-rds</code></summary>") {
		t.Errorf("report:\n%s", report)
	}
	assertEmpty(t, e.work)
}

// A failing apply is Failed with the error at the end of the log, and
// leaves the state as it was.
func TestLocalFailure(t *testing.T) {
	e := newEnv(t)
	e.control(tfstandin.Control{Fail: "apply", Message: "User: arn:aws:iam::123:role/rdsbot is not authorized"})
	ctx := context.Background()
	o, err := e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != apply.Failed || o.Reason != "terraform failed in envs/dev-rds" {
		t.Fatalf("outcome %s: %s", o.Status, o.Reason)
	}
	if !strings.Contains(o.Excerpt, "AccessDeniedException") || !strings.Contains(o.Excerpt, "not authorized") || !strings.Contains(o.Excerpt, "exited with status 1") {
		t.Errorf("excerpt:\n%s", o.Excerpt)
	}
	e.control(tfstandin.Control{})
	o, err = e.local().Plan(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil || o.Status != apply.Succeeded || o.Roots[0].Plan.Add == 0 {
		t.Fatalf("after a failed apply the plan must still create everything: %v %v", o, err)
	}
	// A failing plan: Failed, and its diagnostic is in the summary.
	e.control(tfstandin.Control{Fail: "plan"})
	o, err = e.local().Plan(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil || o.Status != apply.Failed || len(o.Roots[0].Plan.Errors) != 1 {
		t.Fatalf("failing plan: %+v %v", o, err)
	}
	assertEmpty(t, e.work)
}

// A hanging terraform is interrupted at the timeout and its whole process
// group (its provider child too) killed; a cancelled context does the same.
func TestLocalTimeoutKillsProcessGroup(t *testing.T) {
	e := newEnv(t)
	e.control(tfstandin.Control{Hang: "plan"})
	e.cfg.Terraform.Timeout = 3 * time.Second
	o, err := e.local().Apply(context.Background(), apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != apply.TimedOut || !strings.Contains(o.Reason, "timed out after 3s") {
		t.Fatalf("outcome %s: %s", o.Status, o.Reason)
	}
	calls := e.calls()
	last := calls[len(calls)-1]
	if last.Args[0] != "plan" || last.ProviderPID == 0 {
		t.Fatalf("hang not recorded: %+v", last.Args)
	}
	waitGone(t, last.PID, last.ProviderPID)
	assertEmpty(t, e.work)

	e.cfg.Terraform.Timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *apply.Outcome)
	go func() {
		o, _ := e.local().Apply(ctx, apply.Request{Repo: repo, Env: "dev", SHA: e.base})
		done <- o
	}()
	for deadline := time.Now().Add(30 * time.Second); len(e.calls()) < len(calls)+2; {
		if time.Now().After(deadline) {
			t.Fatal("the second run never reached plan")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	o = <-done
	if o == nil || o.Status != apply.Cancelled {
		t.Fatalf("cancelled run: %+v", o)
	}
	last = e.calls()[len(e.calls())-1]
	waitGone(t, last.PID, last.ProviderPID)
	assertEmpty(t, e.work)
}

func TestLocalMissingBinary(t *testing.T) {
	e := newEnv(t)
	e.cfg.Terraform.Binary = "terraform-that-is-not-installed"
	o, err := e.local().Apply(context.Background(), apply.Request{Repo: repo, Env: "dev", SHA: e.base})
	if err != nil || o.Status != apply.Failed || !strings.Contains(o.Reason, "not on PATH") {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = apply.NewLocal(e.cfg, e.repos, apply.Options{}).Apply(context.Background(), apply.Request{Repo: repo, Env: "dev", SHA: e.base, Roots: []string{"envs/nowhere-rds"}})
	if err != nil || o.Status != apply.Failed {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := e.local().Apply(context.Background(), apply.Request{Repo: repo, Env: "dev", SHA: e.base, Roots: []string{"../etc"}}); err == nil {
		t.Fatal("a root outside the checkout was accepted")
	}
}

// waitGone waits (bounded) until the processes are gone or zombies.
func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d outlived the run", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after the ")" that ends the command name
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s still holds %v after the run", dir, entries)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func treeDiff(got, want map[string]string) string {
	var out []string
	for k, v := range want {
		if got[k] != v {
			out = append(out, "want "+k)
		}
	}
	for k, v := range got {
		if want[k] != v {
			out = append(out, "got "+k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
