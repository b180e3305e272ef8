package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/gitops"
)

func init() {
	register("request", "plan a database request into a working tree (or --dry-run for a diff)", runRequest)
	register("decommission", "plan the removal of a database (break-glass)", runDecommission)
}

const requestHelp = `
Turns one request into the change set the bot would commit, in the request
mode of the repository's rdsbot.yaml: direct (the standalone tfvars entry, the
coupled one when coupled mode is on, and the catalog entry) or contract (the
request contract, its generated files and the catalog entry).
The request comes from exactly one of --inputs (the workflow_dispatch inputs as
JSON), --issue-body (an issue-form body) or --file (an RDS_REQUEST_V1 YAML),
or from the field flags alone; field flags override the source's values.
Without --dry-run the files in --repo are rewritten; with it, a unified diff is
printed and nothing is written. An invalid request lists every problem and
exits 2 without touching a file.

The field flags (--database-name, --environment, ...) are not built in: they
are read from the request schema of --repo (schemas/requests/rds.schema.yaml
unless its rdsbot.yaml says otherwise), one per field the requester sets, so
run --help inside the repository (or with --repo) to see them.`

// kebab turns databaseName into database-name.
func kebab(s string) string { return contract.FlagName(s) }

// wantsHelp reports whether the arguments ask for --help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// repoFlag finds --repo before the flag set exists, because the field flags
// come from that repository's schema.
func repoFlag(args []string) string {
	for i, a := range args {
		for _, p := range []string{"--repo=", "-repo="} {
			if v, ok := strings.CutPrefix(a, p); ok {
				return v
			}
		}
		if (a == "--repo" || a == "-repo") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return "."
}

// loadPlanner reads rdsbot.yaml and the schemas of a repository directory.
// A repository whose configuration or schemas do not load is invalid input,
// reported with every problem and where it is.
func loadPlanner(dir string) (*gitops.Planner, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, invalid(fmt.Errorf("--repo %s is not a directory", dir))
	}
	p, err := gitops.New(os.DirFS(dir))
	if err != nil {
		return nil, invalid(&schemaError{dir: dir, err: err})
	}
	return p, nil
}

// schemaError is a repository whose rdsbot.yaml or schemas do not load.
type schemaError struct {
	dir string
	err error
}

func (e *schemaError) Error() string {
	return fmt.Sprintf("the configuration and schemas of %s do not load:\n%s", e.dir, indent(e.err.Error()))
}

func (e *schemaError) Unwrap() error { return e.err }

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// planError turns a planning error into exit 2 when the request caused it.
func planError(err error) error {
	if errors.Is(err, gitops.ErrInvalidRequest) {
		return invalid(err)
	}
	return err
}

func runRequest(ctx context.Context, c *cli, args []string) error {
	dir := repoFlag(args)
	fs := newFlags(c, "request", "[--repo DIR] [--dry-run] (--inputs FILE | --issue-body FILE | --file FILE | field flags)", requestHelp)
	fs.String("repo", ".", "the GitOps repository to plan against and edit")
	dryRun := fs.Bool("dry-run", false, "print a unified diff; write nothing")
	inputs := fs.String("inputs", "", "JSON file with the workflow_dispatch inputs (or a whole workflow_dispatch payload)")
	issueBody := fs.String("issue-body", "", "file holding an issue-form body (### Label sections)")
	file := fs.String("file", "", "RDS_REQUEST_V1 YAML file")
	id := fs.String("id", "", "request id, RDS-<number of the request issue> (required unless --file carries one)")
	nowFlag := fs.String("now", "", "time to record, RFC 3339 (default: now)")

	planner, perr := loadPlanner(dir)
	fieldFlags := map[string]*string{}
	if perr == nil {
		for _, name := range planner.Schema.Request.FieldNames() {
			f := planner.Schema.Request.Fields[name]
			if f.Derived {
				continue
			}
			fieldFlags[name] = fs.String(kebab(name), "", fmt.Sprintf("%s (%s)", f.Description, name))
		}
	} else if wantsHelp(args) {
		usage := fs.Usage
		fs.Usage = func() {
			usage()
			fmt.Fprintf(fs.Output(), "\nNo field flags: %v\n", perr)
		}
	} else {
		// Without the schema the field flags are unknown: say why, rather
		// than "flag provided but not defined".
		return perr
	}
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	raw, probs, err := readRequest(planner, *inputs, *issueBody, *file)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		for name, v := range fieldFlags {
			if kebab(name) == f.Name {
				raw.Set(name, contract.RawValue{Text: strings.TrimSpace(*v), Kind: contract.KindText, Origin: "flag --" + f.Name})
			}
		}
	})
	if *id != "" {
		raw.Set("id", contract.RawValue{Text: *id, Kind: contract.KindText, Origin: "flag --id"})
	}
	req, vprobs := contract.Validate(planner.Schema, raw)
	probs = append(probs, vprobs...)
	if _, ok := raw.Values["id"]; !ok {
		// Every request is tracked by an issue; its id ties the catalog
		// entry, the pull request and the issue together.
		probs = append(probs, contract.Problem{Field: "id", Message: "is required: pass --id RDS-<number of the request issue>", Severity: contract.Error})
	}
	for _, w := range probs.Warnings() {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	if err := probs.Err(); err != nil {
		return invalid(err)
	}
	plan, err := planner.PlanRequest(os.DirFS(dir), req, now)
	if err != nil {
		return planError(err)
	}
	for _, w := range probs.Warnings() {
		plan.Warnings = append(plan.Warnings, w.String())
	}
	return finish(c, dir, plan, *dryRun)
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid(fmt.Errorf("--now: %w", err))
	}
	return t.UTC(), nil
}

func readRequest(p *gitops.Planner, inputs, issueBody, file string) (contract.Raw, contract.Problems, error) {
	set := 0
	for _, s := range []string{inputs, issueBody, file} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return contract.Raw{}, nil, invalid(errors.New("give at most one of --inputs, --issue-body and --file"))
	}
	s := p.Schema.Request
	read := func(path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, invalid(err)
		}
		return b, nil
	}
	switch {
	case inputs != "":
		b, err := read(inputs)
		if err != nil {
			return contract.Raw{}, nil, err
		}
		m, jprobs := contract.ParseJSONObject(b, inputs)
		if jprobs.Err() != nil && m == nil {
			return contract.Raw{}, nil, invalid(jprobs.Err())
		}
		if in, ok := m["inputs"].(map[string]any); ok {
			m = in // a whole workflow_dispatch payload
		}
		raw, probs := contract.FromInputs(s, contract.SourceDispatch, m)
		return raw, append(jprobs, probs...), nil
	case issueBody != "":
		b, err := read(issueBody)
		if err != nil {
			return contract.Raw{}, nil, err
		}
		raw, probs := contract.FromIssueForm(s, string(b))
		return raw, probs, nil
	case file != "":
		b, err := read(file)
		if err != nil {
			return contract.Raw{}, nil, err
		}
		raw, probs := contract.FromYAML(s, b, file)
		return raw, probs, nil
	}
	return contract.FromFlags(nil), nil, nil
}

// finish prints or applies a plan.
func finish(c *cli, dir string, plan *gitops.Plan, dryRun bool) error {
	if dryRun {
		for _, ch := range plan.Changes {
			io.WriteString(c.stdout, diff.Unified(ch.Path, ch.Old, ch.New))
		}
		summarize(c.stderr, plan, "would change")
		return nil
	}
	if err := applyChanges(dir, plan.Changes); err != nil {
		return err
	}
	summarize(c.stdout, plan, "changed")
	return nil
}

func summarize(w io.Writer, plan *gitops.Plan, verb string) {
	subject := plan.Database + " (" + plan.Environment + ")"
	if plan.RequestID != "" {
		subject = plan.RequestID + " " + subject
	}
	if plan.Empty() {
		fmt.Fprintf(w, "%s: nothing to change; the repository already holds this request\n", subject)
		return
	}
	fmt.Fprintf(w, "%s: %s %d file(s)\n", subject, verb, len(plan.Changes))
	for _, ch := range plan.Changes {
		mark := "M"
		switch {
		case ch.Deletes():
			mark = "D"
		case ch.Old == nil:
			mark = "A"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, ch.Path)
	}
	fmt.Fprintf(w, "branch %s -> %s\ntitle  %s\nlabels %s\n", plan.Branch, plan.Base, plan.Title, strings.Join(plan.Labels, ", "))
	if plan.Approval.SelfServe() {
		fmt.Fprintf(w, "approval: self-serve (%s)\n", plan.Approval.Rule)
	} else {
		var needs []string
		for _, g := range plan.Approval.Reviewers {
			needs = append(needs, "review by "+g)
		}
		for _, l := range plan.Approval.Labels {
			needs = append(needs, "label "+l.Label+" by "+l.Group)
		}
		fmt.Fprintf(w, "approval: %s (%s): %s\n", plan.Approval.Tier, plan.Approval.Rule, strings.Join(needs, "; "))
	}
	for _, warn := range plan.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// applyChanges writes every file of a change set or none: each new content
// goes to a temporary file beside its target first; only when all are
// written are they renamed into place, and then the deleted files removed.
func applyChanges(dir string, changes []gitops.Change) error {
	type staged struct{ tmp, dst string }
	var done []staged
	cleanup := func() {
		for _, s := range done {
			os.Remove(s.tmp)
		}
	}
	var removals []string
	for _, ch := range changes {
		dst := filepath.Join(dir, filepath.FromSlash(ch.Path))
		if ch.Deletes() {
			removals = append(removals, dst)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			cleanup()
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(dst), ".rdsbot-*")
		if err != nil {
			cleanup()
			return err
		}
		done = append(done, staged{tmp.Name(), dst})
		mode := os.FileMode(0o644)
		if st, err := os.Stat(dst); err == nil {
			mode = st.Mode().Perm()
		}
		_, werr := tmp.Write(ch.New)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), mode)); err != nil {
			cleanup()
			return fmt.Errorf("write %s: %w", ch.Path, err)
		}
	}
	for _, s := range done {
		if err := os.Rename(s.tmp, s.dst); err != nil {
			cleanup()
			return fmt.Errorf("replace %s: %w", s.dst, err)
		}
	}
	for _, p := range removals {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return nil
}

const decommissionHelp = `
Plans the removal of a database: its application_databases entries leave the
standalone (and coupled) tfvars and its catalog entry moves to decommissioning.
The database and role are never dropped; merging needs break-glass approval.`

func runDecommission(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "decommission", "--env ENV --database NAME [--repo DIR] [--dry-run]", decommissionHelp)
	dir := fs.String("repo", ".", "the GitOps repository")
	env := fs.String("env", "", "environment")
	db := fs.String("database", "", "database (application_databases key)")
	id := fs.String("id", "", "decommission request id, RDS-<issue number>")
	reason := fs.String("reason", "", "why the database goes")
	dryRun := fs.Bool("dry-run", false, "print a unified diff; write nothing")
	nowFlag := fs.String("now", "", "time to record, RFC 3339 (default: now)")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	if *env == "" || *db == "" {
		return invalid(errors.New("--env and --database are required"))
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	planner, err := loadPlanner(*dir)
	if err != nil {
		return err
	}
	plan, err := planner.PlanDecommission(os.DirFS(*dir), gitops.Decommission{Environment: *env, Database: *db, RequestID: *id, Reason: *reason}, now)
	if err != nil {
		return planError(err)
	}
	return finish(c, *dir, plan, *dryRun)
}
