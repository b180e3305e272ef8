package githubfake

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestRequiredCheckSources: which reports satisfy a required check, pinned
// to an App or open to any source.
func TestRequiredCheckSources(t *testing.T) {
	type report struct {
		app     string // "rdsbot", "other" (check runs) or "" (a status by a person)
		state   string // a conclusion, "in_progress", or a status state
		context string
	}
	cases := []struct {
		name    string
		pinned  bool
		reports []report
		want    string
	}{
		{"nothing reported", true, nil, checkExpected},
		{"rdsbot passes", true, []report{{"rdsbot", "success", "rdsbot/approval"}}, checkSuccess},
		{"rdsbot neutral", true, []report{{"rdsbot", "neutral", "rdsbot/approval"}}, checkSuccess},
		{"rdsbot in progress", true, []report{{"rdsbot", "in_progress", "rdsbot/approval"}}, checkPending},
		{"rdsbot fails", true, []report{{"rdsbot", "failure", "rdsbot/approval"}}, checkFailure},
		{"another App's run with the name", true, []report{{"other", "success", "rdsbot/approval"}}, checkExpected},
		{"a person's status with the name", true, []report{{"", "success", "rdsbot/approval"}}, checkExpected},
		{"forgeries after rdsbot's pending run", true, []report{{"rdsbot", "in_progress", "rdsbot/approval"},
			{"other", "success", "rdsbot/approval"}, {"", "success", "rdsbot/approval"}}, checkPending},
		{"another name", true, []report{{"rdsbot", "success", "rdsbot/validate"}}, checkExpected},
		{"unpinned: another App's run counts", false, []report{{"other", "success", "rdsbot/approval"}}, checkSuccess},
		{"unpinned: a person's status counts", false, []report{{"", "success", "rdsbot/approval"}}, checkSuccess},
		{"unpinned: the latest run decides", false, []report{{"rdsbot", "failure", "rdsbot/approval"}, {"other", "success", "rdsbot/approval"}}, checkSuccess},
		{"latest status decides", false, []report{{"", "success", "rdsbot/approval"}, {"", "failure", "rdsbot/approval"}}, checkFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, app := gateFake(t, nil)
			other, _ := f.NewApp("other", "acme")
			if _, err := f.Install(other.ID, "acme"); err != nil {
				t.Fatal(err)
			}
			head := f.BranchSHA(repoName, "main")
			for _, rp := range tc.reports {
				var err error
				switch rp.app {
				case "rdsbot":
					_, err = f.PostCheckRun(app.ID, repoName, checkRun(rp.context, head, rp.state))
				case "other":
					_, err = f.PostCheckRun(other.ID, repoName, checkRun(rp.context, head, rp.state))
				default:
					_, err = f.As("mallory").PostStatus(repoName, head, NewStatus{State: rp.state, Context: rp.context})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			rc := RequiredCheck{Context: "rdsbot/approval"}
			if tc.pinned {
				rc.AppID = app.ID
			}
			f.mu.Lock()
			got := f.checkState(f.repos[repoName], head, rc)
			f.mu.Unlock()
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func checkRun(name, sha, state string) NewCheckRun {
	if state == "in_progress" || state == "queued" {
		return NewCheckRun{Name: name, HeadSHA: sha, Status: state}
	}
	return NewCheckRun{Name: name, HeadSHA: sha, Conclusion: state}
}

// TestBranchProtectionMerges: required checks, approvals from writers,
// stale approvals dismissed on push, strict, administrators and pushes.
func TestBranchProtectionMerges(t *testing.T) {
	f, app := gateFake(t, nil)
	if err := f.ProtectBranch(repoName, "release", Protection{}); err != nil {
		t.Fatal(err)
	}
	// Drop the ruleset from gateFake: classic protection only here.
	f.mu.Lock()
	f.repos[repoName].rulesets = nil
	f.mu.Unlock()
	f.AddOrgOwner("acme", "olga")
	if err := f.ProtectBranch(repoName, "main", Protection{RequiredChecks: []RequiredCheck{{Context: "rdsbot/approval", AppID: app.ID}},
		RequiredApprovals: 1, DismissStaleReviews: true, Strict: true}); err != nil {
		t.Fatal(err)
	}
	pat, dana := f.As("pat"), f.As("dana")
	head, _ := pat.Push(repoName, "feature", Change{Files: map[string]string{"docs/f.md": "f\n"}})
	n, _ := pat.OpenPR(repoName, "feature", "main", "feature", "")
	pass(t, f, app, head, "success")
	mergeErr := func(who string) string {
		_, err := f.As(who).Merge(repoName, n, "merge")
		if err == nil {
			return ""
		}
		return err.Error()
	}
	if msg := mergeErr("pat"); !strings.Contains(msg, "At least 1 approving review is required") {
		t.Fatalf("no approval: %s", msg)
	}
	// An approval by someone with read access only does not count.
	if err := f.SetPermission(repoName, "rita", "read"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("rita").Approve(repoName, n); err != nil {
		t.Fatal(err)
	}
	if msg := mergeErr("pat"); !strings.Contains(msg, "approving review") {
		t.Fatalf("a reader's approval counted: %s", msg)
	}
	rid, _ := dana.Approve(repoName, n)
	// A new push dismisses dana's approval.
	head2, _ := pat.Push(repoName, "feature", Change{Files: map[string]string{"docs/f.md": "f2\n"}})
	pass(t, f, app, head2, "success")
	if rv := f.Reviews(repoName, n); rv[len(rv)-1].ID != rid || rv[len(rv)-1].State != "DISMISSED" {
		t.Fatalf("stale approval kept: %+v", rv)
	}
	is, _ := f.Issue(repoName, n)
	if last := is.Events[len(is.Events)-1]; last.Event != "review_dismissed" || last.DismissedReviewID != rid || last.Actor != "pat" {
		t.Fatalf("dismissal event: %+v", last)
	}
	if _, err := dana.Approve(repoName, n); err != nil {
		t.Fatal(err)
	}
	// main moves: strict asks for the head to be up to date.
	if err := f.UnprotectBranch(repoName, "main"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("olga").Push(repoName, "main", Change{Files: map[string]string{"docs/other.md": "o\n"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.ProtectBranch(repoName, "main", Protection{RequiredChecks: []RequiredCheck{{Context: "rdsbot/approval", AppID: app.ID}},
		RequiredApprovals: 1, Strict: true}); err != nil {
		t.Fatal(err)
	}
	if pr, _ := f.PullRequest(repoName, n); pr.MergeableState != "behind" {
		t.Fatalf("mergeable_state %s, want behind", pr.MergeableState)
	}
	if msg := mergeErr("pat"); !strings.Contains(msg, "not up to date") {
		t.Fatalf("strict: %s", msg)
	}
	// An administrator merges past a rule that does not include administrators.
	if _, err := f.As("olga").Merge(repoName, n, "merge"); err != nil {
		t.Fatalf("admin bypass: %v", err)
	}
	// Pushing to the protected branch is refused, deleting it too.
	if _, err := pat.Push(repoName, "main", Change{Files: map[string]string{"x": "y"}}); err == nil || !strings.Contains(err.Error(), "Protected branch update failed") {
		t.Fatalf("push to protected main: %v", err)
	}
	if err := f.ProtectBranch(repoName, "main", Protection{RequiredChecks: []RequiredCheck{{Context: "ci"}}, EnforceAdmins: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("olga").Push(repoName, "main", Change{Files: map[string]string{"x": "y"}}); err == nil {
		t.Fatal("an administrator pushed past a rule that includes administrators")
	}
}

// TestPermissions: labels need triage, statuses and merges need write.
func TestPermissions(t *testing.T) {
	f, _ := gateFake(t, nil)
	for login, role := range map[string]string{"rita": "read", "tom": "triage"} {
		if err := f.SetPermission(repoName, login, role); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SetPermission(repoName, "x", "owner"); err == nil {
		t.Fatal("an unknown role was accepted")
	}
	n, _ := f.As("alice").OpenIssue(repoName, "request", "")
	if err := f.As("rita").AddLabels(repoName, n, "platform-approval"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a reader labelled: %v", err)
	}
	if err := f.As("tom").AddLabels(repoName, n, "platform-approval"); err != nil {
		t.Fatalf("triage may label: %v", err)
	}
	if _, err := f.As("tom").PostStatus(repoName, f.BranchSHA(repoName, "main"), NewStatus{State: "success", Context: "x"}); err == nil {
		t.Fatal("triage set a status")
	}
	if _, err := f.As("tom").Push(repoName, "tom", Change{Files: map[string]string{"a": "b"}}); err == nil {
		t.Fatal("triage pushed")
	}
	if ls := f.Labels(repoName, n); len(ls) != 1 || ls[0].AddedBy != "tom" {
		t.Fatalf("labels: %+v", ls)
	}
}

// TestTeamsThroughActors: nested teams, pending invitations and the
// membership, organization and team webhooks.
func TestTeamsThroughActors(t *testing.T) {
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	f.AddOrgOwner("acme", "olga")
	f.AddTeam("acme", "dba", "dana")
	app, _ := f.NewApp("rdsbot", "acme")
	inst, _ := f.Install(app.ID, "acme")
	olga := f.As("olga")
	if err := olga.CreateTeam("acme", "dba-emea", "dba"); err != nil {
		t.Fatal(err)
	}
	if err := olga.CreateTeam("acme", "dba", ""); err == nil {
		t.Fatal("a second team with the same slug")
	}
	if err := f.As("dana").CreateTeam("acme", "x", ""); err == nil {
		t.Fatal("a member created a team")
	}
	f.AddOrg("acme", "erik")
	if st, err := olga.AddTeamMember("acme", "dba-emea", "erik", ""); err != nil || st != "active" {
		t.Fatalf("member: %s %v", st, err)
	}
	if st, err := olga.AddTeamMember("acme", "dba-emea", "nina", "maintainer"); err != nil || st != "pending" {
		t.Fatalf("outsider: %s %v", st, err)
	}
	check := func(team, login, wantRole, wantState string) {
		t.Helper()
		if role, state := f.TeamMembership("acme", team, login); role != wantRole || state != wantState {
			t.Fatalf("%s in %s: %q %q, want %q %q", login, team, role, state, wantRole, wantState)
		}
	}
	check("dba", "erik", "member", "active") // through the child team
	check("dba-emea", "nina", "maintainer", "pending")
	check("dba", "nina", "", "")
	if _, err := f.As("dana").AddTeamMember("acme", "dba-emea", "eve", ""); err == nil {
		t.Fatal("a parent team's member managed the child team")
	}
	if err := f.As("nina").AcceptInvitation("acme"); err != nil {
		t.Fatal(err)
	}
	check("dba", "nina", "member", "active")
	// nina maintains dba-emea now: she may manage it.
	if st, err := f.As("nina").AddTeamMember("acme", "dba-emea", "dana", ""); err != nil || st != "active" {
		t.Fatalf("maintainer adds: %s %v", st, err)
	}
	if err := f.As("nina").RemoveTeamMember("acme", "dba-emea", "erik"); err != nil {
		t.Fatal(err)
	}
	check("dba", "erik", "", "")
	if err := olga.SetTeamParent("acme", "dba", "dba-emea"); err == nil {
		t.Fatal("a cycle of teams")
	}
	if err := olga.RemoveOrgMember("acme", "nina"); err != nil {
		t.Fatal(err)
	}
	check("dba-emea", "nina", "", "")
	var got []string
	for _, ev := range f.Events() {
		var p struct {
			Scope        string
			Member       struct{ Login string }
			Team         struct{ Slug string }
			Installation struct{ ID int64 }
			Repository   json.RawMessage
		}
		_ = json.Unmarshal(ev.Payload, &p)
		if p.Installation.ID != inst || p.Repository != nil {
			t.Fatalf("%s.%s: installation %d, repository %s", ev.Name, ev.Action, p.Installation.ID, p.Repository)
		}
		got = append(got, strings.TrimSuffix(ev.Name+"."+ev.Action+":"+p.Team.Slug+":"+p.Member.Login, ":"))
	}
	want := []string{
		"team.created:dba-emea", "membership.added:dba-emea:erik", "organization.member_invited:", "organization.member_added:",
		"membership.added:dba-emea:nina", "membership.added:dba-emea:dana", "membership.removed:dba-emea:erik",
		"membership.removed:dba-emea:nina", "organization.member_removed:",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}
