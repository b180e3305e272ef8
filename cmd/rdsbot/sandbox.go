package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/pgtest"
	"github.com/rdsbot/rdsbot/pkg/sandbox"
)

func init() {
	register("sandbox", "play the whole flow against an in-process fake GitHub (make demo)", runSandbox)
}

const sandboxHelp = `
Starts githubfake (an in-memory GitHub speaking the real REST API) seeded with
the example repository, an organisation, teams, users and the App installed,
a stand-in terraform (this binary, linked as terraform-standin), an AWS
Secrets Manager stand-in and, when PostgreSQL's binaries are installed, a
throwaway cluster shaped like RDS; then rdsbot's server with its embedded
SQLite job store, wired by signed webhooks over loopback HTTP exactly as in
production (GitHub's limits, rdsbot's pacer and retry policy). It plays a
story: an issue-form request, a Backstage workflow_dispatch, an invalid
request fixed by an edit, an approval label removed from someone who may not
give it, approvals and merges, the plan check, the apply through the local
runner, provisioning (a dry run without PostgreSQL, said plainly), the
catalog going active and the issues closing; it prints each scene's
webhooks, jobs, GitHub calls and writes, commits on main, pull requests
(with their diffs) and status comments, then a summary table and a psql
line. Nothing needs to be installed or configured. With --keep it stays up,
prints every user's token and writes a session file, so that "rdsbot
sandbox as <user> <action>" acts as anyone (request, comment, label,
approve, merge, ...) from another terminal.`

func runSandbox(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 && args[0] == "as" {
		return runSandboxAs(ctx, c, args[1:])
	}
	fs := newFlags(c, "sandbox", "[--keep] [--verbose] | as <user> <action> [arguments]", sandboxHelp)
	keep := fs.Bool("keep", false, "keep running after the story, until interrupted, and let a person act as every user (rdsbot sandbox as)")
	session := fs.String("session", "", "with --keep: where to write the session file (default $RDSBOT_SANDBOX_SESSION, else rdsbot-sandbox.json in the temporary directory)")
	verbose := fs.Bool("verbose", false, "print rdsbot's own logs (JSON) to stderr")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rec := &sandbox.Recorder{}
	fmt.Fprintln(c.stdout, "starting a throwaway PostgreSQL cluster for provisioning ...")
	master, stopPG, err := sandbox.StartPostgres(ctx)
	switch {
	case errors.Is(err, pgtest.ErrNoPostgres):
		fmt.Fprintln(c.stdout, "  PostgreSQL's binaries are not installed: provisioning will be a dry run.")
		master = nil
	case err != nil:
		return fmt.Errorf("start PostgreSQL: %w", err)
	default:
		defer stopPG()
	}
	s, err := sandbox.Start(ctx, sandbox.Options{Logger: log, Observer: rec, Rollout: &sandbox.Rollout{Master: master}})
	if err != nil {
		return err
	}
	defer s.Close()
	story := &sandbox.Story{S: s, Rec: rec, W: c.stdout}
	if master != nil {
		story.Postgres = fmt.Sprintf("%s:%d (master %s)", master.Host, master.Port, master.User)
	}
	if err := story.Play(ctx); err != nil {
		return err
	}
	if !*keep {
		return nil
	}
	sessPath := sessionPath(c, *session)
	if err := sandbox.WriteSession(sessPath, s.Session()); err != nil {
		return err
	}
	defer os.Remove(sessPath)
	printKeep(c.stdout, s, sessPath)
	<-ctx.Done()
	return nil
}

// sessionPath is where `--keep` writes the session and `sandbox as` reads it.
func sessionPath(c *cli, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := c.getenv("RDSBOT_SANDBOX_SESSION"); env != "" {
		return env
	}
	return filepath.Join(os.TempDir(), "rdsbot-sandbox.json")
}

func printKeep(w io.Writer, s *sandbox.Sandbox, sessPath string) {
	sess := s.Session()
	fmt.Fprintf(w, "\nThe sandbox keeps running (Ctrl-C to stop).\n\n  fake GitHub  %s (plain HTTP; the REST API under /api/v3 and at the root)\n  rdsbot       %s (/metrics, /healthz)\n  repository   %s\n  session      %s\n\nEach user's token (send it as 'Authorization: token <token>'):\n\n", s.GitHubURL, s.ServerURL, s.Repo, sessPath)
	for _, u := range sandbox.Users {
		fmt.Fprintf(w, "  %-14s %s\n", u, sess.Tokens[u])
	}
	fmt.Fprintf(w, "\nAct as anyone from another terminal:\n\n")
	for _, v := range sandbox.Verbs {
		fmt.Fprintf(w, "  rdsbot sandbox as <user> %-16s %s\n", v[0], v[1])
	}
	fmt.Fprintf(w, `
For example:

  rdsbot sandbox as alice request "Database name=ledger" "Application username=ledger_app" "Environment=staging" "Owning team=app-team" "Domain=cost"
  rdsbot sandbox as bob approve <pull request>
  rdsbot sandbox as erin label <pull request> platform-approval     # not erin's to give: removed, with a comment
  rdsbot sandbox as bob merge <pull request>
  rdsbot sandbox as alice show <issue>

or with curl:

  curl -s %[1]s/repos/%[2]s/pulls -H 'Authorization: token %[3]s'
`, s.GitHubURL, s.Repo, sess.Tokens[sandbox.Requester])
}

const sandboxAsHelp = `
Acts as one of a running sandbox's users (started with rdsbot sandbox --keep)
through GitHub's REST API with that user's token, exactly as their browser
would: rdsbot sees the same webhooks. Users: alice (app-team, the requester),
bob (platform-team), carol (security-team), dave (database-team), erin
(app-team), backstage-bot (Backstage's identity).`

func runSandboxAs(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "sandbox as", "<user> <action> [arguments]", sandboxAsHelp)
	session := fs.String("session", "", "the session file (default $RDSBOT_SANDBOX_SESSION, else rdsbot-sandbox.json in the temporary directory)")
	if err := parseFlagsAndArgs(c, fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) < 2 {
		var verbs []string
		for _, v := range sandbox.Verbs {
			verbs = append(verbs, v[0])
		}
		return invalid(fmt.Errorf("sandbox as: a user and an action are required (actions: %s)", strings.Join(verbs, ", ")))
	}
	sess, err := sandbox.ReadSession(sessionPath(c, *session))
	if err != nil {
		return invalid(err)
	}
	out, err := sandbox.Act(ctx, sess, rest[0], rest[1], rest[2:])
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, out)
	return nil
}
