package githubfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// gateEndpoints drives what an approval gate reads and writes through
// go-github, as TestEndpointsThroughGoGitHub's "approval gate" step: nested
// teams and pending memberships, review requests and edits, branch
// protection pinned to an App, rulesets, a forged status and an impostor
// App's check run, and the merge queue. The responses and webhooks are
// checked against GitHub's schemas afterwards with everything else.
func gateEndpoints(t *testing.T, h *harness) {
	ctx, gh, f := h.ctx, h.gh, h.f
	const o, r = "acme", "infra"
	f.AddOrgOwner(o, "olga")
	olga, alice, dana := h.as("olga"), h.as("alice"), h.as("dana")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Teams: a child team's member is a member of the parent; an invited
	// outsider is pending until they accept.
	f.AddTeam(o, "dba-oncall", "omar")
	must(f.SetTeamParent(o, "dba-oncall", "dba"))
	if m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "omar"); err != nil || m.GetState() != "active" {
		t.Fatalf("child team member in parent: %v %v", m, err)
	}
	children, _, err := gh.Teams.ListChildTeamsByParentSlug(ctx, o, "dba", nil)
	if err != nil || len(children) != 1 || children[0].GetSlug() != "dba-oncall" || children[0].GetParent().GetSlug() != "dba" {
		t.Fatalf("child teams: %v %v", children, err)
	}
	members, _, err := gh.Teams.ListTeamMembersBySlug(ctx, o, "dba", nil)
	var logins []string
	for _, m := range members {
		logins = append(logins, m.GetLogin())
	}
	if err != nil || !slices.Equal(logins, []string{"dana", "dave", "omar"}) {
		t.Fatalf("members with child teams: %v %v", logins, err)
	}
	if tm, _, err := gh.Teams.GetTeamBySlug(ctx, o, "dba-oncall"); err != nil || tm.GetParent().GetSlug() != "dba" {
		t.Fatalf("team parent: %v %v", tm, err)
	}
	m, _, err := olga.Teams.AddTeamMembershipBySlug(ctx, o, "dba", "nick", &github.TeamAddTeamMembershipOptions{Role: "member"})
	if err != nil || m.GetState() != "pending" {
		t.Fatalf("invite outsider: %v %v", m, err)
	}
	if m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "nick"); err != nil || m.GetState() != "pending" {
		t.Fatalf("pending membership: %v %v", m, err)
	}
	_, _, err = gh.Teams.AddTeamMembershipBySlug(ctx, o, "dba", "mallory", nil)
	wantErr(t, err, 403, "Resource not accessible by integration")
	_, _, err = alice.Teams.AddTeamMembershipBySlug(ctx, o, "dba", "alice", nil)
	wantErr(t, err, 403, "organization owner or team maintainer")
	must(f.As("nick").AcceptInvitation(o))
	if m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "nick"); err != nil || m.GetState() != "active" {
		t.Fatalf("accepted membership: %v %v", m, err)
	}
	if _, err := olga.Teams.RemoveTeamMembershipBySlug(ctx, o, "dba", "nick"); err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.Teams.GetTeamMembershipBySlug(ctx, o, "dba", "nick")
	wantErr(t, err, 404, "Not Found")
	must(f.As("olga").CreateTeam(o, "security", ""))
	must(f.As("olga").SetTeamParent(o, "security", "platform"))
	must(f.As("olga").RemoveOrgMember(o, "omar"))
	if role, state := f.TeamMembership(o, "dba", "omar"); state != "" {
		t.Fatalf("removed from the organisation, still %s %s", role, state)
	}

	// A pull request by a person, with review requests, an edited review,
	// drafts and a dismissal.
	pat := f.As("pat")
	head, err := pat.Push(repoName, "gate", Change{Files: map[string]string{"envs/dev-rds/terraform.tfvars": "application_databases = { gate = {} }\n"}})
	must(err)
	n, err := pat.OpenPR(repoName, "gate", "main", "gate", "")
	must(err)
	if _, _, err := gh.PullRequests.RequestReviewers(ctx, o, r, n, github.ReviewersRequest{Reviewers: []string{"dana"}, TeamReviewers: []string{"dba"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.PullRequests.RequestReviewers(ctx, o, r, n, github.ReviewersRequest{Reviewers: []string{"pat"}})
	wantErr(t, err, 422, "Review cannot be requested from pull request author.")
	revs, _, err := gh.PullRequests.ListReviewers(ctx, o, r, n, nil)
	if err != nil || len(revs.Users) != 1 || len(revs.Teams) != 1 || revs.Teams[0].GetSlug() != "dba" {
		t.Fatalf("requested reviewers: %v %v", revs, err)
	}
	must(pat.ConvertToDraft(repoName, n))
	must(pat.MarkReadyForReview(repoName, n))
	approve, _, err := dana.PullRequests.CreateReview(ctx, o, r, n, &github.PullRequestReviewRequest{Event: github.String("APPROVE"), Body: github.String("ok")})
	must(err)
	if edited, _, err := dana.PullRequests.UpdateReview(ctx, o, r, n, approve.GetID(), "ok, checked the size"); err != nil || edited.GetBody() != "ok, checked the size" {
		t.Fatalf("edit review: %v %v", edited, err)
	}
	_, _, err = alice.PullRequests.UpdateReview(ctx, o, r, n, approve.GetID(), "hijacked")
	wantErr(t, err, 403, "own reviews")
	if revs, _, _ := gh.PullRequests.ListReviewers(ctx, o, r, n, nil); len(revs.Users) != 0 {
		t.Fatalf("a review answers its request: %v", revs.Users)
	}
	if _, _, err := olga.PullRequests.DismissReview(ctx, o, r, n, approve.GetID(), &github.PullRequestReviewDismissalRequest{Message: github.String("stale")}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := gh.Issues.ListIssueEvents(ctx, o, r, n, nil)
	must(err)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.GetEvent())
		switch e.GetEvent() {
		case "review_requested":
			if e.GetReviewRequester().GetLogin() != "rdsbot[bot]" || (e.GetRequestedReviewer().GetLogin() != "dana" && e.GetRequestedTeam().GetSlug() != "dba") {
				t.Fatalf("review_requested: %+v", e)
			}
		case "review_dismissed":
			if d := e.GetDismissedReview(); d.GetState() != "approved" || d.GetReviewID() != approve.GetID() || d.GetDismissalMessage() != "stale" || e.GetActor().GetLogin() != "olga" {
				t.Fatalf("review_dismissed: %+v", e)
			}
		}
	}
	if want := []string{"review_requested", "review_requested", "convert_to_draft", "ready_for_review", "review_dismissed"}; !slices.Equal(kinds, want) {
		t.Fatalf("pull request events %v, want %v", kinds, want)
	}

	// Branch protection pinned to rdsbot: only an administrator manages it;
	// the App reads it from the branch.
	appID := h.app.ID
	pin := &github.ProtectionRequest{EnforceAdmins: true, RequiredStatusChecks: &github.RequiredStatusChecks{
		Checks: &[]*github.RequiredStatusCheck{{Context: "rdsbot/approval", AppID: &appID}}}}
	p, _, err := olga.Repositories.UpdateBranchProtection(ctx, o, r, "main", pin)
	if err != nil || (*p.GetRequiredStatusChecks().Checks)[0].GetAppID() != appID {
		t.Fatalf("protect: %v %v", p, err)
	}
	_, _, err = gh.Repositories.GetBranchProtection(ctx, o, r, "main")
	wantErr(t, err, 403, "Resource not accessible by integration")
	_, _, err = alice.Repositories.UpdateBranchProtection(ctx, o, r, "main", pin)
	wantErr(t, err, 403, "admin rights")
	if got, _, err := olga.Repositories.GetBranchProtection(ctx, o, r, "main"); err != nil || !got.GetEnforceAdmins().Enabled {
		t.Fatalf("get protection: %v %v", got, err)
	}
	if rsc, _, err := olga.Repositories.GetRequiredStatusChecks(ctx, o, r, "main"); err != nil || (*rsc.Checks)[0].GetAppID() != appID {
		t.Fatalf("required checks: %v %v", rsc, err)
	}
	var b struct {
		Protected  bool `json:"protected"`
		Protection struct {
			RequiredStatusChecks github.RequiredStatusChecks `json:"required_status_checks"`
		} `json:"protection"`
	}
	req, _ := gh.NewRequest("GET", "repos/acme/infra/branches/main", nil) // go-github v60's Branch drops protection
	if _, err := gh.Do(ctx, req, &b); err != nil || !b.Protected || (*b.Protection.RequiredStatusChecks.Checks)[0].GetAppID() != appID {
		t.Fatalf("branch protection as the App sees it: %+v %v", b, err)
	}
	// A status anyone with write access sets, and an impostor App's check
	// run, carry rdsbot's check name but not its App: the merge is refused.
	if _, _, err := alice.Repositories.CreateStatus(ctx, o, r, head, &github.RepoStatus{State: github.String("success"), Context: github.String("rdsbot/approval")}); err != nil {
		t.Fatal(err)
	}
	impostor, err := f.NewApp("impostor", o)
	must(err)
	impInst, err := f.Install(impostor.ID, o)
	must(err)
	impTok, err := f.InstallationToken(impInst)
	must(err)
	imp := h.client(&http.Client{Transport: &tokenTransport{token: impTok, next: h.rec}})
	if _, _, err := imp.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: head, Conclusion: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	_, _, err = olga.PullRequests.Merge(ctx, o, r, n, "", nil)
	wantErr(t, err, 405, `Required status check "rdsbot/approval" is expected.`)
	// Without app_id, GitHub pins the check to the App that reported it
	// last, the impostor here: the App must be named.
	_, _, err = olga.Repositories.UpdateBranchProtection(ctx, o, r, "main", &github.ProtectionRequest{RequiredStatusChecks: &github.RequiredStatusChecks{
		Checks: &[]*github.RequiredStatusCheck{{Context: "rdsbot/approval"}}}})
	must(err)
	if rsc, _, _ := olga.Repositories.GetRequiredStatusChecks(ctx, o, r, "main"); (*rsc.Checks)[0].GetAppID() != impostor.ID {
		t.Fatalf("auto-pinned to app %d, want the last reporter %d", (*rsc.Checks)[0].GetAppID(), impostor.ID)
	}
	if _, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: head, Status: github.String("in_progress")}); err != nil {
		t.Fatal(err)
	}
	runs, _, err := gh.Checks.ListCheckRunsForRef(ctx, o, r, head, &github.ListCheckRunsOptions{CheckName: github.String("rdsbot/approval")})
	if err != nil || runs.GetTotal() != 2 {
		t.Fatalf("latest run per App: %v %v", runs, err)
	}
	ours, _, err := gh.Checks.ListCheckRunsForRef(ctx, o, r, head, &github.ListCheckRunsOptions{CheckName: github.String("rdsbot/approval"), AppID: &appID})
	if err != nil || ours.GetTotal() != 1 || ours.CheckRuns[0].GetApp().GetID() != appID || ours.CheckRuns[0].GetStatus() != "in_progress" {
		t.Fatalf("runs of rdsbot: %v %v", ours, err)
	}
	if _, err := olga.Repositories.RemoveBranchProtection(ctx, o, r, "main"); err != nil {
		t.Fatal(err)
	}

	// A ruleset with a required check pinned to rdsbot (integration_id) and
	// a merge queue. go-github v60 cannot decode merge_queue rules, so
	// rulesets are read raw.
	rsBody := map[string]any{
		"name": "main", "target": "branch", "enforcement": "active",
		"conditions": map[string]any{"ref_name": map[string]any{"include": []string{"~DEFAULT_BRANCH"}, "exclude": []string{}}},
		"rules": []map[string]any{
			{"type": "required_status_checks", "parameters": map[string]any{"strict_required_status_checks_policy": false,
				"required_status_checks": []map[string]any{{"context": "rdsbot/approval", "integration_id": appID}}}},
			{"type": "merge_queue", "parameters": map[string]any{"merge_method": "MERGE", "grouping_strategy": "ALLGREEN",
				"max_entries_to_build": 5, "max_entries_to_merge": 5, "min_entries_to_merge": 1,
				"min_entries_to_merge_wait_minutes": 0, "check_response_timeout_minutes": 60}},
		},
	}
	var created struct {
		ID int64 `json:"id"`
	}
	req, _ = olga.NewRequest("POST", "repos/acme/infra/rulesets", rsBody)
	if _, err := olga.Do(ctx, req, &created); err != nil || created.ID == 0 {
		t.Fatalf("create ruleset: %v %v", created, err)
	}
	req, _ = gh.NewRequest("POST", "repos/acme/infra/rulesets", rsBody)
	_, err = gh.Do(ctx, req, nil)
	wantErr(t, err, 403, "Resource not accessible by integration")
	if all, _, err := gh.Repositories.GetAllRulesets(ctx, o, r, false); err != nil || len(all) != 1 || all[0].GetID() != created.ID {
		t.Fatalf("rulesets: %v %v", all, err)
	}
	var full struct {
		Rules []struct {
			Type string `json:"type"`
		} `json:"rules"`
	}
	req, _ = gh.NewRequest("GET", "repos/acme/infra/rulesets/"+jsonInt(created.ID), nil)
	if _, err := gh.Do(ctx, req, &full); err != nil || len(full.Rules) != 2 {
		t.Fatalf("ruleset: %v %v", full, err)
	}
	var rules []struct {
		Type       string          `json:"type"`
		RulesetID  int64           `json:"ruleset_id"`
		Parameters json.RawMessage `json:"parameters"`
	}
	req, _ = gh.NewRequest("GET", "repos/acme/infra/rules/branches/main", nil)
	if _, err := gh.Do(ctx, req, &rules); err != nil || len(rules) != 2 || rules[0].RulesetID != created.ID ||
		!strings.Contains(string(rules[0].Parameters), `"integration_id":`+jsonInt(appID)) {
		t.Fatalf("branch rules: %+v %v", rules, err)
	}

	// The merge queue: a direct merge is refused; the queued pull request
	// gets a merge group, and merges when rdsbot's check passes on it.
	if _, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: head, Conclusion: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	_, _, err = olga.PullRequests.Merge(ctx, o, r, n, "", nil)
	wantErr(t, err, 405, "Changes must be made through the merge queue")
	must(f.As("dana").Enqueue(repoName, n))
	queue := f.MergeQueue(repoName, "main")
	if len(queue) != 1 || queue[0].GroupSHA == "" {
		t.Fatalf("queue: %+v", queue)
	}
	ref, _, err := gh.Git.GetRef(ctx, o, r, strings.TrimPrefix(queue[0].GroupRef, "refs/"))
	if err != nil || ref.GetObject().GetSHA() != queue[0].GroupSHA || !strings.HasPrefix(queue[0].GroupRef, "refs/heads/gh-readonly-queue/main/pr-") {
		t.Fatalf("group ref: %v %v", ref, err)
	}
	_, _, err = gh.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: github.String(queue[0].GroupRef), Object: &github.GitObject{SHA: github.String(head)}}, true)
	wantErr(t, err, 422, "managed by the merge queue")
	if _, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: queue[0].GroupSHA, Conclusion: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	if pr, _, err := gh.PullRequests.Get(ctx, o, r, n); err != nil || !pr.GetMerged() || pr.GetMergeCommitSHA() != queue[0].GroupSHA || f.BranchSHA(repoName, "main") != queue[0].GroupSHA {
		t.Fatalf("merged through the queue: %v %v", pr, err)
	}
	// A second pull request leaves the queue when its author dequeues it.
	head2, err := pat.Push(repoName, "gate2", Change{Files: map[string]string{"docs/gate2.md": "x\n"}})
	must(err)
	n2, err := pat.OpenPR(repoName, "gate2", "main", "gate2", "")
	must(err)
	if _, _, err := gh.Checks.CreateCheckRun(ctx, o, r, github.CreateCheckRunOptions{Name: "rdsbot/approval", HeadSHA: head2, Conclusion: github.String("success")}); err != nil {
		t.Fatal(err)
	}
	must(pat.Enqueue(repoName, n2))
	must(pat.Dequeue(repoName, n2))
	if q := f.MergeQueue(repoName, "main"); len(q) != 0 {
		t.Fatalf("after dequeue: %+v", q)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
