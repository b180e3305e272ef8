package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/rdsbot/rdsbot/pkg/config"
)

// DefaultPath is the PATH terraform gets unless the configuration passes
// or sets one.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Local runs terraform (or tofu) itself, on a fresh checkout of the commit.
type Local struct {
	cfg   config.Apply
	repos Repos
	opts  Options

	once   sync.Once
	bin    string
	binErr error
}

// NewLocal returns the local runner.
func NewLocal(cfg config.Apply, repos Repos, opts Options) *Local {
	return &Local{cfg: cfg, repos: repos, opts: opts.withDefaults()}
}

// Kind is config.RunnerLocal.
func (l *Local) Kind() string { return config.RunnerLocal }

// binary resolves the configured binary once, against the PATH terraform
// itself gets (not rdsbot's).
func (l *Local) binary() (string, error) {
	l.once.Do(func() {
		b := l.cfg.Terraform.Binary
		if strings.ContainsRune(b, '/') {
			l.bin, l.binErr = filepath.Abs(b)
			if l.binErr == nil {
				_, l.binErr = os.Stat(l.bin)
			}
			return
		}
		for _, dir := range filepath.SplitList(l.pathVar()) {
			p := filepath.Join(dir, b)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				l.bin = p
				return
			}
		}
		l.binErr = fmt.Errorf("%s is not on PATH %s (apply.terraform.binary)", b, l.pathVar())
	})
	return l.bin, l.binErr
}

func (l *Local) pathVar() string {
	if v, ok := l.cfg.Terraform.Env["PATH"]; ok {
		return v
	}
	for _, n := range l.cfg.Terraform.PassEnv {
		if n == "PATH" {
			if v := l.opts.Getenv("PATH"); v != "" {
				return v
			}
		}
	}
	return DefaultPath
}

// environ is terraform's whole environment: nothing of rdsbot's own but
// the variables apply.terraform.pass_env names, then apply.terraform.env,
// then what the runner fixes (HOME and TMPDIR in the run's directory, so
// no ~/.terraformrc or credentials file of the host is read). It also
// returns the passed values that must be masked in logs.
func (l *Local) environ(runDir string) (env []string, secrets []string) {
	vars := map[string]string{"PATH": l.pathVar()}
	for _, n := range l.cfg.Terraform.PassEnv {
		if v := l.opts.Getenv(n); v != "" {
			vars[n] = v
			secrets = append(secrets, v)
		}
	}
	for k, v := range l.cfg.Terraform.Env {
		vars[k] = v
	}
	vars["HOME"] = filepath.Join(runDir, "home")
	vars["TMPDIR"] = filepath.Join(runDir, "tmp")
	vars["TF_IN_AUTOMATION"] = "1"
	vars["TF_INPUT"] = "0"
	vars["CHECKPOINT_DISABLE"] = "1"
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, secrets
}

// run is one plan or apply in progress.
type run struct {
	l       *Local
	req     Request
	log     *logSink
	bin     string
	env     []string
	src     string
	outcome *Outcome
}

// Plan plans the commit in each root (a pull request's head) and reports
// what the plans would do: Succeeded when every plan passes the policy,
// Refused when one would destroy or replace a protected resource. Nothing
// is applied.
//
// The plan runs code from the commit (providers, data sources) with the
// credentials the runner passes: plan only commits whose content rdsbot
// trusts (its own request branches), or give plans read-only credentials.
func (l *Local) Plan(ctx context.Context, req Request) (*Outcome, error) {
	return l.do(ctx, req, false)
}

// Apply plans the commit in each root, checks the plan against the policy,
// and applies that saved plan; it stops at the first root that fails or is
// refused.
func (l *Local) Apply(ctx context.Context, req Request) (*Outcome, error) {
	return l.do(ctx, req, true)
}

func (l *Local) do(ctx context.Context, req Request, apply bool) (*Outcome, error) {
	if req.Repo == "" || req.Env == "" || req.SHA == "" {
		return nil, errorf("request needs Repo, Env and SHA, got %q %q %q", req.Repo, req.Env, req.SHA)
	}
	roots := req.Roots
	if len(roots) == 0 {
		roots = l.cfg.RootsFor(req.Env)
	}
	for _, r := range roots {
		if r == "" || path.IsAbs(r) || path.Clean(r) != r || r == ".." || strings.HasPrefix(r, "../") {
			return nil, errorf("root %q is not a clean relative directory", r)
		}
	}
	o := &Outcome{Started: l.opts.Now()}
	runDir, err := os.MkdirTemp(l.cfg.Terraform.WorkDir, "rdsbot-"+req.Env+"-*")
	if err != nil {
		return nil, errorf("work directory: %w", err)
	}
	defer func() {
		if err := removeAll(runDir); err != nil {
			l.opts.Logger.Error("apply: removing the work directory", "dir", runDir, "err", err)
		}
	}()
	env, secrets := l.environ(runDir)
	r := &run{l: l, req: req, log: newLogSink(req.Log, secrets), env: env, src: filepath.Join(runDir, "src"), outcome: o}
	finish := func(st Status, reason string) (*Outcome, error) {
		o.Status, o.Reason, o.Finished = st, reason, l.opts.Now()
		r.log.linef("==> %s: %s", st, reason)
		o.Excerpt = r.log.excerpt()
		l.opts.Logger.Info("apply: run ended", "repo", req.Repo, "env", req.Env, "sha", req.SHA, "apply", apply, "status", st, "reason", reason)
		return o, nil
	}
	r.bin, err = l.binary()
	if err != nil {
		return finish(Failed, err.Error())
	}
	for _, d := range []string{"home", "tmp", "src"} {
		if err := os.Mkdir(filepath.Join(runDir, d), 0o700); err != nil {
			return nil, errorf("work directory: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Terraform.Timeout)
	defer cancel()
	what := map[bool]string{false: "plan", true: "apply"}[apply]
	r.log.linef("==> %s of %s (%s) at %s, roots %s", what, req.Env, req.Repo, req.SHA, strings.Join(roots, ", "))
	client, err := l.repos(ctx, req.Repo)
	if err != nil {
		return nil, errorf("GitHub client for %s: %w", req.Repo, err)
	}
	snap, err := client.SnapshotAt(ctx, req.Repo, req.SHA)
	if err != nil {
		return nil, errorf("snapshot of %s at %s: %w", req.Repo, req.SHA, err)
	}
	n, err := materialize(snap.WithContext(ctx), r.src, r.log)
	if err != nil {
		if ctx.Err() != nil {
			return finish(ctxStatus(ctx), "stopped during the checkout")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, fs.ErrInvalid) {
			return nil, errorf("%w", err) // GitHub failed to serve a file: try again
		}
		return finish(Failed, err.Error())
	}
	r.log.linef("==> checked out %d files of %s at %s", n, req.Repo, req.SHA)
	var refused []string
	for _, root := range roots {
		res := r.root(ctx, root, apply)
		o.Roots = append(o.Roots, res)
		if !apply && res.Status == Refused { // a plan goes on: the report shows every root
			refused = append(refused, root)
			continue
		}
		if res.Status != Succeeded {
			reason := map[Status]string{
				Refused:   "the plan of " + root + " " + verdictOf(res.Plan),
				Failed:    "terraform failed in " + root,
				TimedOut:  fmt.Sprintf("timed out after %s in %s", l.cfg.Terraform.Timeout, root),
				Cancelled: "cancelled in " + root,
			}[res.Status]
			return finish(res.Status, reason)
		}
	}
	if len(refused) > 0 {
		return finish(Refused, "the plan of "+strings.Join(refused, ", ")+" would destroy or replace protected resources, or could not be checked")
	}
	if apply {
		return finish(Succeeded, fmt.Sprintf("applied %s in %s", short(req.SHA), strings.Join(roots, ", ")))
	}
	return finish(Succeeded, fmt.Sprintf("planned %s in %s", short(req.SHA), strings.Join(roots, ", ")))
}

func verdictOf(s *Summary) string {
	if s == nil {
		return "could not be read"
	}
	return s.Verdict()
}

func short(sha string) string { return sha[:min(len(sha), 12)] }

func ctxStatus(ctx context.Context) Status {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return TimedOut
	}
	return Cancelled
}

// root runs init, plan (and show, or apply) in one root.
func (r *run) root(ctx context.Context, root string, apply bool) RootResult {
	res := RootResult{Root: root}
	dir := filepath.Join(r.src, filepath.FromSlash(root))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		r.log.linef("==> %s does not exist at %s", root, r.req.SHA)
		res.Status = Failed
		return res
	}
	cfg := r.l.cfg
	lock := "-lock-timeout=" + cfg.Terraform.LockTimeout.String()
	initArgs := []string{"init", "-input=false", "-no-color", lock}
	for _, kv := range cfg.BackendFor(r.req.Env, root) {
		initArgs = append(initArgs, "-backend-config="+kv)
	}
	if st := r.step(ctx, root, dir, initArgs, false, nil); st != Succeeded {
		res.Status = st
		return res
	}
	var stream bytes.Buffer
	overflow := false
	keep := func(line []byte) {
		if stream.Len()+len(line)+1 > MaxPlanStream {
			overflow = true
			return
		}
		stream.Write(line)
		stream.WriteByte('\n')
	}
	planArgs := []string{"plan", "-input=false", "-no-color", lock, "-out=tfplan", "-json"}
	st := r.step(ctx, root, dir, planArgs, true, keep)
	policy := Policy{Protected: cfg.Plan.Protected, AllowDestroy: r.req.AllowDestroy}
	if sum, err := SummarizeUI(stream.Bytes(), policy); err == nil {
		sum.Incomplete = sum.Incomplete || overflow
		res.Plan = sum
	} else {
		r.log.linef("==> %v", err)
	}
	if st != Succeeded {
		res.Status = st
		return res
	}
	passed := res.Plan != nil && res.Plan.Passed()
	if !passed {
		r.log.linef("==> the plan of %s %s", root, verdictOf(res.Plan))
		for _, c := range planBlocked(res.Plan) {
			r.log.linef("    %s %s (protected by %s)", c.Action, c.Address, c.Protected)
		}
	}
	if !apply {
		var text strings.Builder
		cutText := false
		st := r.step(ctx, root, dir, []string{"show", "-no-color", "tfplan"}, false, func(line []byte) {
			if text.Len()+len(line)+1 > MaxPlanText {
				cutText = true
				return
			}
			text.Write(line)
			text.WriteByte('\n')
		})
		res.PlanText, res.PlanTextCut, res.Status = text.String(), cutText, st
		if st == Succeeded && !passed {
			res.Status = Refused
		}
		return res
	}
	if !passed {
		res.Status = Refused
		return res
	}
	var applied *Counts
	st = r.step(ctx, root, dir, []string{"apply", "-input=false", "-no-color", lock, "-json", "tfplan"}, true, func(line []byte) {
		if c := applyCounts(line); c != nil {
			applied = c
		}
	})
	res.Applied, res.Status = applied, st
	return res
}

func planBlocked(s *Summary) []Change {
	if s == nil {
		return nil
	}
	return s.Blocked()
}

// step runs one command and maps its end to a status.
func (r *run) step(ctx context.Context, root, dir string, args []string, ui bool, keep func([]byte)) Status {
	r.log.linef("==> %s: %s %s", root, filepath.Base(r.bin), strings.Join(args, " "))
	err := proc{bin: r.bin, args: args, dir: dir, env: r.env, grace: r.l.cfg.Terraform.KillGrace, log: r.log, json: ui, keep: keep}.run(ctx)
	var ee errExit
	switch {
	case err == nil:
		return Succeeded
	case ctx.Err() != nil:
		r.log.linef("==> %s: %s %s stopped: %v", root, filepath.Base(r.bin), args[0], ctx.Err())
		return ctxStatus(ctx)
	case errors.As(err, &ee):
		r.log.linef("==> %s: %s %s exited with status %d", root, filepath.Base(r.bin), args[0], ee.code)
		return Failed
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		r.log.linef("==> %s: cannot run %s: %v", root, r.bin, err)
		return Failed
	}
	r.log.linef("==> %s: %s %s: %v", root, filepath.Base(r.bin), args[0], err)
	return Failed
}

// applyCounts reads apply's change_summary line.
func applyCounts(line []byte) *Counts {
	var m uiMessage
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &m) != nil || m.Type != "change_summary" || m.Changes == nil || m.Changes.Operation != "apply" {
		return nil
	}
	return &Counts{Add: m.Changes.Add, Change: m.Changes.Change, Destroy: m.Changes.Remove}
}
