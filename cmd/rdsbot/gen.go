package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rdsbot/rdsbot/pkg/gen"
)

func init() {
	register("gen", "write the issue form, dispatch workflow and Backstage template from schemas/", runGen)
}

const genHelp = `
Generates the request entry points from the schemas so their lists never
drift from enums.yaml: the issue form, the inputs of the create-rds-database
workflow (a dispatch target whose job does nothing) and the Backstage
template. It also proves that each of them (and repository_dispatch, the CLI
flags and a contract file) can make a valid request in every environment:
a conditional rule that a surface cannot satisfy with what it can send plus
the defaults is reported with the rule, the surface and the environment.
With --check nothing is written and the command exits 1 when a file is
missing or stale, or a rule cannot be satisfied.`

func runGen(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "gen", "[--repo DIR] [--check]", genHelp)
	dir := fs.String("repo", ".", "the GitOps repository")
	check := fs.Bool("check", false, "report stale files and exit 1; write nothing")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	planner, err := loadPlanner(*dir)
	if err != nil {
		return err
	}
	files, err := gen.All(planner.Schema, planner.Config)
	if err != nil {
		return err
	}
	read := func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(*dir, filepath.FromSlash(p))) }
	stale := gen.Check(files, read)
	unsatisfiable := planner.Schema.Request.CheckSurfaces()
	for _, err := range unsatisfiable {
		fmt.Fprintf(c.stdout, "schema: %v\n", err)
	}
	if *check {
		for _, p := range stale {
			fmt.Fprintf(c.stdout, "stale: %s (run `rdsbot gen`)\n", p)
		}
		if len(stale) > 0 || len(unsatisfiable) > 0 {
			return fmt.Errorf("%d generated file(s) out of date, %d schema rule(s) a surface cannot satisfy", len(stale), len(unsatisfiable))
		}
		fmt.Fprintln(c.stdout, "ok: generated files are current; every surface can satisfy every rule")
		return nil
	}
	for _, f := range files {
		dst := filepath.Join(*dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, f.Content, 0o644); err != nil {
			return err
		}
		state := "unchanged"
		for _, s := range stale {
			if s == f.Path {
				state = "written"
			}
		}
		fmt.Fprintf(c.stdout, "%s: %s\n", f.Path, state)
	}
	if len(unsatisfiable) > 0 {
		return fmt.Errorf("%d schema rule(s) a surface cannot satisfy", len(unsatisfiable))
	}
	return nil
}
