package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

func init() {
	register("validate", "check that the whole repository is consistent", runValidate)
}

// notes lists the documented defaults a repository's schemas rely on
// (pkg/schema/defaults), so nothing is filled in silently.
func notes(p *gitops.Planner) []string {
	var out []string
	s := p.Schema
	if n := s.Request.Notes; len(n) > 0 {
		out = append(out, fmt.Sprintf("%s is in the original format; rdsbot fills what that format lacks from its documented defaults:\n    %s",
			s.Request.File, strings.Join(n, "\n    ")))
	}
	for _, k := range s.Enums.Defaulted() {
		out = append(out, fmt.Sprintf("%s has no %s list; using the documented default", p.Config.Schemas.Enums, k))
	}
	if s.Reserved.File == "" {
		out = append(out, fmt.Sprintf("%s does not exist; using the documented reserved names", p.Config.Schemas.ReservedNames))
	}
	return out
}

const validateHelp = `
Checks the repository as a whole and lists every problem with its file and
line: rdsbot.yaml and the schemas load; each tfvars parses and type-checks
against its root's variables.tf; every catalog entry has its tfvars entry (or,
in the contract mode, its request contract) and the reverse; each contract's
generated files are exactly what rdsbot renders from it; the coupled and
standalone maps agree in keys and values where coupled mode is on; values
respect the enums; no database or role takes a reserved name; every intake
surface can satisfy every rule of the request schema; and no standalone root
lowers deletion_protection or prevent_destroy. Documented defaults the
schemas rely on are listed as notes. Exits 1 when anything is wrong.`

func runValidate(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "validate", "[--repo DIR]", validateHelp)
	dir := fs.String("repo", ".", "the GitOps repository")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	planner, err := loadPlanner(*dir)
	var se *schemaError
	if errors.As(err, &se) {
		// The schemas are part of what validate checks: their problems are
		// findings like any other.
		fmt.Fprintln(c.stdout, se.err)
		return errors.New("the configuration or the schemas do not load")
	}
	if err != nil {
		return err
	}
	for _, n := range notes(planner) {
		fmt.Fprintln(c.stdout, "note:", n)
	}
	findings := repocheck.Check(os.DirFS(*dir), planner.Config, planner.Schema)
	for _, f := range findings {
		fmt.Fprintln(c.stdout, f)
	}
	if len(findings) > 0 {
		return fmt.Errorf("%d problem(s) found", len(findings))
	}
	fmt.Fprintln(c.stdout, "ok: repository is consistent")
	return nil
}
