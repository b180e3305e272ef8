package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rdsbot/rdsbot/pkg/sandbox"
)

func init() {
	register("sandbox", "play the whole flow against an in-process fake GitHub (make demo)", runSandbox)
}

const sandboxHelp = `
Starts githubfake (an in-memory GitHub speaking the real REST API) seeded with
the example repository, an organisation, teams, users and the App installed,
and rdsbot's server with its embedded SQLite job store, wired by signed
webhooks over loopback HTTP exactly as in production. It then plays a story:
an issue-form request, a Backstage workflow_dispatch, an invalid request fixed
by an edit, and two merges in one environment, printing each delivery, job,
pull request (with its diff) and status comment. Nothing needs to be
installed or configured. With --keep it stays up and prints how to open a
request by hand.`

func runSandbox(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "sandbox", "[--keep] [--verbose]", sandboxHelp)
	keep := fs.Bool("keep", false, "keep running after the story, until interrupted")
	verbose := fs.Bool("verbose", false, "print rdsbot's own logs (JSON) to stderr")
	if err := parseFlags(c, fs, args); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rec := &sandbox.Recorder{}
	s, err := sandbox.Start(ctx, sandbox.Options{Logger: log, Observer: rec})
	if err != nil {
		return err
	}
	defer s.Close()
	story := &sandbox.Story{S: s, Rec: rec, W: c.stdout}
	if err := story.Play(ctx); err != nil {
		return err
	}
	if !*keep {
		return nil
	}
	token := s.Fake.UserToken(sandbox.Requester)
	fmt.Fprintf(c.stdout, `
The sandbox keeps running (Ctrl-C to stop). Open a request as %[3]s:

  curl -s -X POST %[1]s/repos/%[2]s/issues \
    -H 'Authorization: token %[4]s' -H 'Content-Type: application/json' \
    -d '{"title": "RDS request: ledger", "labels": ["rds-request"], "body": "### Database name\n\nledger\n\n### Application username\n\nledger_app\n\n### Environment\n\ndev\n\n### Owning team\n\napp-team\n\n### Domain\n\ncost\n"}'

then watch it:

  curl -s %[1]s/repos/%[2]s/pulls -H 'Authorization: token %[4]s'
  curl -s %[1]s/repos/%[2]s/issues/<number>/comments -H 'Authorization: token %[4]s'

The fake serves plain HTTP (gh insists on HTTPS for Enterprise hosts, so use curl).
rdsbot's metrics: %[5]s/metrics
`, s.GitHubURL, s.Repo, sandbox.Requester, token, s.ServerURL)
	<-ctx.Done()
	return nil
}
