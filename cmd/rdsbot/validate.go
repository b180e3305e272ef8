package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rdsbot/rdsbot/pkg/repocheck"
)

func init() {
	register("validate", "check that the whole repository is consistent", runValidate)
}

const validateHelp = `
Checks the repository as a whole and lists every problem with its file and
line: each tfvars parses and type-checks against its root's variables.tf;
every catalog entry has its tfvars entry and the reverse; the coupled and
standalone maps agree in keys and values where coupled mode is on; values
respect the enums; and no standalone root lowers deletion_protection or
prevent_destroy. Exits 1 when anything is wrong.`

func runValidate(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "validate", "[--repo DIR]", validateHelp)
	dir := fs.String("repo", ".", "the GitOps repository")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	planner, err := loadPlanner(*dir)
	if err != nil {
		return err
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
