package githubfake_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
)

// A scenario as the bot's tests drive it: seed, act as users, talk to the
// fake through go-github with App credentials, inspect.
func Example() {
	fake := githubfake.New(githubfake.Options{WebhookSecret: "s3cret"})
	defer fake.Close()
	url, _ := fake.Start()

	fake.AddTeam("acme", "dba", "dana")
	fake.AddRepo("acme/infra", map[string]string{"envs/dev-rds/terraform.tfvars": "application_databases = {}\n"})
	app, _ := fake.NewApp("rdsbot", "acme")
	inst, _ := fake.Install(app.ID, "acme")

	// The bot's side: an installation client, exactly as in production.
	tr, _ := ghinstallation.New(http.DefaultTransport, app.ID, inst, app.PEM)
	tr.BaseURL = url + "/api/v3"
	gh, _ := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(url+"/", url+"/")

	// A user opens an issue; the bot comments through the API.
	n, _ := fake.As("alice").OpenIssue("acme/infra", "RDS request: orders", "### Database name\n\norders", "rds-request")
	gh.Issues.CreateComment(context.Background(), "acme", "infra", n, &github.IssueComment{Body: github.String("On it.")})

	m, _, _ := gh.Teams.GetTeamMembershipBySlug(context.Background(), "acme", "dba", "dana")
	fmt.Println("dana in dba:", m.GetState())
	for _, c := range fake.Comments("acme/infra", n) {
		fmt.Printf("#%d %s: %s\n", n, c.User, c.Body)
	}
	for _, ev := range fake.Events() {
		fmt.Println(ev.Name, ev.Action)
	}
	fmt.Println(fake.CallCount("POST /repos/{owner}/{repo}/issues/{issue_number}/comments"), "comment call")
	// Output:
	// dana in dba: active
	// #1 rdsbot[bot]: On it.
	// issues opened
	// issue_comment created
	// 1 comment call
}
