package githubfake

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// gateFake is a fake with acme/infra, the rdsbot App installed, and a
// ruleset on main requiring rdsbot/approval from rdsbot through a merge
// queue with the given rule.
func gateFake(t *testing.T, mq *MergeQueueRule) (*Fake, AppCredentials) {
	t.Helper()
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	f.AddTeam("acme", "dba", "dana")
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	app, err := f.NewApp("rdsbot", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Install(app.ID, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddRuleset(repoName, Ruleset{Name: "main", Include: []string{"~DEFAULT_BRANCH"},
		RequiredChecks: []RequiredCheck{{Context: "rdsbot/approval", AppID: app.ID}}, MergeQueue: mq}); err != nil {
		t.Fatal(err)
	}
	return f, app
}

// openPassing opens a pull request from branch with one file changed and
// rdsbot's check passing on its head.
func openPassing(t *testing.T, f *Fake, app AppCredentials, branch, path, content string) int {
	t.Helper()
	head, err := f.As("pat").Push(repoName, branch, Change{Files: map[string]string{path: content}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.As("pat").OpenPR(repoName, branch, "main", branch, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.PostCheckRun(app.ID, repoName, NewCheckRun{Name: "rdsbot/approval", HeadSHA: head, Conclusion: "success"}); err != nil {
		t.Fatal(err)
	}
	return n
}

func pass(t *testing.T, f *Fake, app AppCredentials, sha, conclusion string) {
	t.Helper()
	if _, err := f.PostCheckRun(app.ID, repoName, NewCheckRun{Name: "rdsbot/approval", HeadSHA: sha, Conclusion: conclusion}); err != nil {
		t.Fatal(err)
	}
}

func queued(f *Fake) []int {
	var out []int
	for _, e := range f.MergeQueue(repoName, "main") {
		out = append(out, e.Number)
	}
	return out
}

// mergeGroupEvents lists "action:pr-N[:reason]" of merge_group events since
// from, checking each payload's refs and sender.
func mergeGroupEvents(t *testing.T, f *Fake, from int) []string {
	t.Helper()
	var out []string
	for _, ev := range f.Events()[from:] {
		if ev.Name != "merge_group" {
			continue
		}
		var p struct {
			Reason     string `json:"reason"`
			MergeGroup struct {
				HeadRef string `json:"head_ref"`
				BaseSHA string `json:"base_sha"`
				BaseRef string `json:"base_ref"`
			} `json:"merge_group"`
			Sender struct{ Login string }
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		g := p.MergeGroup
		name, ok := strings.CutPrefix(g.HeadRef, "refs/heads/gh-readonly-queue/main/")
		if !ok || p.Sender.Login != QueueBot || g.BaseRef != "refs/heads/main" || !strings.HasSuffix(name, "-"+g.BaseSHA) {
			t.Fatalf("merge_group payload: %s", ev.Payload)
		}
		s := ev.Action + ":" + strings.TrimSuffix(name, "-"+g.BaseSHA)
		if p.Reason != "" {
			s += ":" + p.Reason
		}
		out = append(out, s)
	}
	return out
}

func TestMergeQueueGroupsAndGrouping(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		// after group 3 passes alone, then group 1, then group 2:
		merged [][]int
	}{
		{"ALLGREEN", [][]int{nil, {1}, {2, 3}}},
		{"HEADGREEN", [][]int{{1, 2, 3}, nil, nil}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			f, app := gateFake(t, &MergeQueueRule{GroupingStrategy: tc.strategy})
			var prs []int
			for i := range 3 {
				prs = append(prs, openPassing(t, f, app, fmt.Sprintf("q%d", i), fmt.Sprintf("docs/q%d.md", i), "x\n"))
			}
			for _, n := range prs {
				if err := f.As("dana").Enqueue(repoName, n); err != nil {
					t.Fatal(err)
				}
			}
			q := f.MergeQueue(repoName, "main")
			mainSHA := f.BranchSHA(repoName, "main")
			if len(q) != 3 || q[0].GroupBase != mainSHA || q[1].GroupBase != q[0].GroupSHA || q[2].GroupBase != q[1].GroupSHA {
				t.Fatalf("groups are not stacked: %+v", q)
			}
			// Group 3 holds all three pull requests.
			files, _ := f.Files(repoName, q[2].GroupSHA)
			for i := range 3 {
				if !slices.Contains(files, fmt.Sprintf("docs/q%d.md", i)) {
					t.Fatalf("group 3 lacks docs/q%d.md: %v", i, files)
				}
			}
			mergedSoFar := map[int]bool{}
			for step, sha := range []string{q[2].GroupSHA, q[0].GroupSHA, q[1].GroupSHA} {
				pass(t, f, app, sha, "success")
				var now []int
				for _, pr := range f.PullRequests(repoName) {
					if pr.Merged && !mergedSoFar[pr.Number] {
						now = append(now, pr.Number)
						mergedSoFar[pr.Number] = true
						if pr.MergedBy != "dana" || pr.MergeCommitSHA != q[pr.Number-1].GroupSHA {
							t.Fatalf("PR #%d merged by %s at %s", pr.Number, pr.MergedBy, pr.MergeCommitSHA)
						}
					}
				}
				if !slices.Equal(now, tc.merged[step]) {
					t.Fatalf("step %d merged %v, want %v", step, now, tc.merged[step])
				}
			}
			if f.BranchSHA(repoName, "main") != q[2].GroupSHA || len(queued(f)) != 0 {
				t.Fatalf("main %s, queue %v", f.BranchSHA(repoName, "main"), queued(f))
			}
			for _, e := range q {
				if f.BranchSHA(repoName, strings.TrimPrefix(e.GroupRef, "refs/heads/")) != "" {
					t.Fatalf("group branch %s left behind", e.GroupRef)
				}
			}
			is, _ := f.Issue(repoName, prs[0])
			var kinds []string
			for _, ev := range is.Events {
				kinds = append(kinds, ev.Event+":"+ev.Actor)
			}
			if want := []string{"added_to_merge_queue:dana", "merged:dana", "closed:dana"}; !slices.Equal(kinds, want) {
				t.Fatalf("events %v, want %v", kinds, want)
			}
		})
	}
}

func TestMergeQueueFailureConflictTimeoutAndPush(t *testing.T) {
	f, app := gateFake(t, &MergeQueueRule{CheckResponseTimeoutMinutes: 30})
	a := openPassing(t, f, app, "a", "docs/a.md", "a\n")
	b := openPassing(t, f, app, "b", "docs/b.md", "b\n")
	c := openPassing(t, f, app, "c", "docs/a.md", "c conflicts with a\n")
	start := len(f.Events())
	for _, n := range []int{a, b, c} {
		if err := f.As("dana").Enqueue(repoName, n); err != nil {
			t.Fatal(err)
		}
	}
	// c conflicts with a, ahead of it: it cannot be built and leaves.
	if got := queued(f); !slices.Equal(got, []int{a, b}) {
		t.Fatalf("queue %v", got)
	}
	q := f.MergeQueue(repoName, "main")
	// a fails: it leaves, b's group is rebuilt on main.
	pass(t, f, app, q[0].GroupSHA, "failure")
	q2 := f.MergeQueue(repoName, "main")
	if len(q2) != 1 || q2[0].Number != b || q2[0].GroupBase != f.BranchSHA(repoName, "main") || q2[0].GroupSHA == q[1].GroupSHA {
		t.Fatalf("after failure: %+v", q2)
	}
	got := mergeGroupEvents(t, f, start)
	want := []string{"checks_requested:pr-1", "checks_requested:pr-2", "destroyed:pr-1:dequeued", "destroyed:pr-2:invalidated", "checks_requested:pr-2"}
	if !slices.Equal(got, want) {
		t.Fatalf("merge_group events\n got %v\nwant %v", got, want)
	}
	reasons := map[int]string{}
	for _, ev := range f.Events()[start:] {
		if ev.Name == "pull_request" && ev.Action == "dequeued" {
			var p struct {
				Number int
				Reason string
			}
			_ = json.Unmarshal(ev.Payload, &p)
			reasons[p.Number] = p.Reason
		}
	}
	if reasons[a] != dequeueFailure || reasons[c] != dequeueConflict {
		t.Fatalf("dequeue reasons %v", reasons)
	}
	// Nobody reports on b's group: after the timeout it leaves.
	f.Advance(29 * time.Minute)
	if len(queued(f)) != 1 {
		t.Fatal("dequeued before the timeout")
	}
	f.Advance(2 * time.Minute)
	if len(queued(f)) != 0 {
		t.Fatalf("still queued after the timeout: %v", queued(f))
	}
	// A push to a queued pull request takes it out.
	pass(t, f, app, f.BranchSHA(repoName, "b"), "success")
	if err := f.As("dana").Enqueue(repoName, b); err != nil {
		t.Fatal(err)
	}
	if _, err := f.As("pat").Push(repoName, "b", Change{Files: map[string]string{"docs/b.md": "b2\n"}}); err != nil {
		t.Fatal(err)
	}
	if len(queued(f)) != 0 {
		t.Fatal("a pushed pull request stayed queued")
	}
}

func TestMergeQueueRefusals(t *testing.T) {
	f, app := gateFake(t, nil)
	n := openPassing(t, f, app, "x", "docs/x.md", "x\n")
	if err := f.As("dana").Enqueue(repoName, n); err == nil || !strings.Contains(err.Error(), "Merge queue is not enabled") {
		t.Fatalf("no merge queue: %v", err)
	}
	f2, app2 := gateFake(t, &MergeQueueRule{})
	head, _ := f2.As("pat").Push(repoName, "y", Change{Files: map[string]string{"docs/y.md": "y\n"}})
	m, _ := f2.As("pat").OpenPR(repoName, "y", "main", "y", "")
	if err := f2.As("dana").Enqueue(repoName, m); err == nil || !strings.Contains(err.Error(), `Required status check "rdsbot/approval" is expected.`) {
		t.Fatalf("enqueue without the required check: %v", err)
	}
	// A status with the check's name by a person does not satisfy a check pinned to rdsbot.
	if _, err := f2.As("mallory").PostStatus(repoName, head, NewStatus{State: "success", Context: "rdsbot/approval"}); err != nil {
		t.Fatal(err)
	}
	if err := f2.As("dana").Enqueue(repoName, m); err == nil {
		t.Fatal("a forged status let the pull request into the queue")
	}
	pass(t, f2, app2, head, "success")
	if err := f2.SetPermission(repoName, "reader", "read"); err != nil {
		t.Fatal(err)
	}
	if err := f2.As("reader").Enqueue(repoName, m); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("a reader enqueued: %v", err)
	}
	if err := f2.As("dana").ConvertToDraft(repoName, m); err != nil {
		t.Fatal(err)
	}
	if err := f2.As("dana").Enqueue(repoName, m); err == nil || !strings.Contains(err.Error(), "draft") {
		t.Fatalf("a draft entered the queue: %v", err)
	}
	if _, err := f2.As("pat").Merge(repoName, m, "merge"); err == nil || !strings.Contains(err.Error(), "merge queue") {
		t.Fatalf("direct merge on a queue branch: %v", err)
	}
	if _, err := f2.As("pat").Push(repoName, "main", Change{Files: map[string]string{"x": "y"}}); err == nil || !strings.Contains(err.Error(), "Protected branch update failed") {
		t.Fatalf("direct push on a queue branch: %v", err)
	}
}

func TestMergeQueueBaseMovedByAdmin(t *testing.T) {
	f := New(Options{})
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.AddRepo(repoName, seedFiles); err != nil {
		t.Fatal(err)
	}
	app, _ := f.NewApp("rdsbot", "acme")
	if _, err := f.Install(app.ID, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddRuleset(repoName, Ruleset{Name: "q", Include: []string{"refs/heads/main"}, AdminsBypass: true,
		RequiredChecks: []RequiredCheck{{Context: "rdsbot/approval", AppID: app.ID}}, MergeQueue: &MergeQueueRule{}}); err != nil {
		t.Fatal(err)
	}
	f.AddOrgOwner("acme", "olga")
	a := openPassing(t, f, app, "a", "docs/a.md", "a\n")
	b := openPassing(t, f, app, "b", "docs/b.md", "b\n")
	c := openPassing(t, f, app, "c", "docs/c.md", "c\n")
	for _, n := range []int{a, b} {
		if err := f.As("dana").Enqueue(repoName, n); err != nil {
			t.Fatal(err)
		}
	}
	before := f.MergeQueue(repoName, "main")
	start := len(f.Events())
	// An administrator merges c past the queue; then a queued pull request, b.
	if _, err := f.As("dana").Merge(repoName, c, "merge"); err == nil {
		t.Fatal("a writer merged past the queue")
	}
	if _, err := f.As("olga").Merge(repoName, c, "merge"); err != nil {
		t.Fatal(err)
	}
	after := f.MergeQueue(repoName, "main")
	if len(after) != 2 || after[0].GroupBase != f.BranchSHA(repoName, "main") || after[0].GroupSHA == before[0].GroupSHA {
		t.Fatalf("groups not rebuilt on the moved base: %+v", after)
	}
	if _, err := f.As("olga").Merge(repoName, b, "merge"); err != nil {
		t.Fatal(err)
	}
	if got := queued(f); !slices.Equal(got, []int{a}) {
		t.Fatalf("queue after merging b directly: %v", got)
	}
	got := mergeGroupEvents(t, f, start)
	want := []string{"destroyed:pr-1:invalidated", "destroyed:pr-2:invalidated", "checks_requested:pr-1", "checks_requested:pr-2",
		"destroyed:pr-1:invalidated", "destroyed:pr-2:invalidated", "checks_requested:pr-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("merge_group events\n got %v\nwant %v", got, want)
	}
	for _, ev := range f.Events()[start:] {
		if ev.Name == "pull_request" && ev.Action == "dequeued" {
			t.Fatalf("a pull request merged directly was reported dequeued: %s", ev.Payload)
		}
	}
}
