package sandbox

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/jobs"
)

// Recorder is a jobs.Observer that keeps the job outcomes for the timeline.
type Recorder struct {
	mu   sync.Mutex
	done []string
}

// JobDone records one job attempt.
func (r *Recorder) JobDone(kind string, outcome jobs.Outcome, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, strings.TrimPrefix(kind, "rdsbot_")+" "+string(outcome))
}

// IntakeCommitted is not shown.
func (r *Recorder) IntakeCommitted(int, time.Duration) {}

func (r *Recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.done
	r.done = nil
	return out
}

// Story plays the demo on a sandbox and narrates it to w.
type Story struct {
	S   *Sandbox
	Rec *Recorder
	W   io.Writer

	deliveries int             // deliveries already shown
	shownPR    map[int]string  // pull request -> head and state shown
	seen       map[string]bool // comment id and text shown
}

const formPath = ".github/ISSUE_TEMPLATE/rds-request.yml"

// Play runs every scene and returns the first failure.
func (st *Story) Play(ctx context.Context) error {
	st.shownPR, st.seen = map[int]string{}, map[string]bool{}
	s := st.S
	files, _ := s.Fake.Files(s.Repo, "main")
	fmt.Fprintf(st.W, "rdsbot sandbox\n")
	fmt.Fprintf(st.W, "  GitHub (githubfake)  %s   org %s, repository %s (%d files)\n", s.GitHubURL, Org, s.Repo, len(files))
	fmt.Fprintf(st.W, "  rdsbot               %s   App %q (id %d) installed; jobs in %s\n", s.ServerURL, s.App.Slug, s.App.ID, s.Dir)
	fmt.Fprintf(st.W, "  people               %s (app-team), %s (platform-team), %s (security-team), %s (database-team), %s\n\n",
		Requester, Platform, Security, DBA, Backstage)

	orders := map[string]string{
		"Database name": "orders_service", "Application username": "orders_app", "Environment": "test",
		"Owning team": "app-team", "Domain": "delivery", "Risk": "medium", "Size tier": "small",
	}
	var ordersIssue, billingIssue int
	scenes := []struct {
		title string
		act   func() error
	}{
		{"alice asks for a database with the issue form (test: coupled mode, so both tfvars change)", func() error {
			n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, formPath, "orders database", orders)
			ordersIssue = n
			return err
		}},
		{"Backstage dispatches create-rds-database.yml with the ten inputs (same environment)", func() error {
			_, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", map[string]any{
				"base_branch": "main", "environment": "test", "database_name": "payments", "username": "payments_app",
				"owner": "app-team", "user": Requester, "domain": "cost", "risk": "low", "size": "small", "initial_schema": "none",
			})
			return err
		}},
		{"erin files an invalid request (bad name, a size dev does not allow)", func() error {
			n, err := s.Fake.As("erin").OpenIssueForm(s.Repo, formPath, "billing database", map[string]string{
				"Database name": "Billing-DB", "Application username": "billing_app", "Environment": "dev",
				"Owning team": "app-team", "Domain": "cost", "Size tier": "large",
			})
			billingIssue = n
			return err
		}},
		{"erin fixes the issue by editing it", func() error {
			is, err := s.Fake.Issue(s.Repo, billingIssue)
			if err != nil {
				return err
			}
			body := strings.NewReplacer("Billing-DB", "billing", "large", "small").Replace(is.Body)
			return s.Fake.As("erin").EditIssue(s.Repo, billingIssue, githubfake.IssueEdit{Body: &body})
		}},
		{"bob approves and merges alice's pull request; main moves under the Backstage request", func() error {
			return st.merge(ordersIssue)
		}},
		{"bob approves and merges the re-planned Backstage request: it merges cleanly", func() error {
			return st.merge(st.issueOf("rds/test/payments"))
		}},
	}
	for i, sc := range scenes {
		fmt.Fprintf(st.W, "%d. %s\n", i+1, sc.title)
		if err := sc.act(); err != nil {
			return fmt.Errorf("scene %d: %w", i+1, err)
		}
		if err := s.Settle(ctx, 60*time.Second); err != nil {
			return fmt.Errorf("scene %d: %w", i+1, err)
		}
		st.narrate()
	}
	return st.summary()
}

// issueOf finds the request issue of a branch's pull request.
func (st *Story) issueOf(branch string) int {
	for _, pr := range st.S.Fake.PullRequests(st.S.Repo) {
		if pr.Head == branch {
			for _, line := range strings.Split(pr.Issue.Body, "\n") {
				var n int
				if _, err := fmt.Sscanf(line, "Request: #%d", &n); err == nil {
					return n
				}
			}
		}
	}
	return 0
}

func (st *Story) merge(issue int) error {
	for _, pr := range st.S.Fake.PullRequests(st.S.Repo) {
		if strings.Contains(pr.Issue.Body, fmt.Sprintf("Request: #%d\n", issue)) && pr.Issue.State == "open" {
			// test needs one human approval (rdsbot/approval): bob gives it
			// a moment after the last push, then merges.
			st.S.Fake.Advance(2 * time.Second)
			if _, err := st.S.Fake.As(Platform).Approve(st.S.Repo, pr.Number); err != nil {
				return err
			}
			if err := st.S.Settle(context.Background(), 60*time.Second); err != nil {
				return err
			}
			_, err := st.S.Fake.As(Platform).Merge(st.S.Repo, pr.Number, "merge")
			return err
		}
	}
	return fmt.Errorf("no open pull request for issue #%d", issue)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// narrate prints what happened since the last scene: deliveries, jobs,
// pull requests (with their diffs when their head moved) and the bot's
// comments.
func (st *Story) narrate() {
	s := st.S
	ds := s.Fake.Deliveries()
	for _, d := range ds[st.deliveries:] {
		name := d.Event
		if d.Action != "" {
			name += "." + d.Action
		}
		fmt.Fprintf(st.W, "   delivery  %-28s -> %s\n", name, d.Status)
	}
	st.deliveries = len(ds)
	if jobsDone := st.Rec.take(); len(jobsDone) > 0 {
		counts := map[string]int{}
		var order []string
		for _, j := range jobsDone {
			if counts[j] == 0 {
				order = append(order, j)
			}
			counts[j]++
		}
		var parts []string
		for _, j := range order {
			parts = append(parts, fmt.Sprintf("%s ×%d", j, counts[j]))
		}
		sort.Strings(parts)
		fmt.Fprintf(st.W, "   jobs      %s\n", strings.Join(parts, ", "))
	}
	for _, pr := range s.Fake.PullRequests(s.Repo) {
		head := pr.HeadSHA
		state := pr.Issue.State
		if pr.Merged {
			state = "merged"
		}
		key := head + state
		if st.shownPR[pr.Number] == key {
			continue
		}
		first := st.shownPR[pr.Number] == ""
		st.shownPR[pr.Number] = key
		var labels []string
		for _, l := range s.Fake.Labels(s.Repo, pr.Number) {
			labels = append(labels, l.Name)
		}
		verb := "opened"
		switch {
		case pr.Merged:
			verb = "merged"
		case !first:
			verb = "rebuilt on the new base"
		}
		fmt.Fprintf(st.W, "   PR #%d    %s (%s): %s -> %s\n", pr.Number, pr.Issue.Title, verb, pr.Head, pr.Base)
		if pr.Merged {
			continue
		}
		fmt.Fprintf(st.W, "             labels %s; mergeable %v\n", strings.Join(labels, ", "), pr.Mergeable)
		for _, path := range prFiles(s, pr) {
			old, _ := s.Fake.File(s.Repo, pr.BaseSHA, path)
			neu, _ := s.Fake.File(s.Repo, pr.HeadSHA, path)
			fmt.Fprint(st.W, indent(diff.Unified(path, old, neu), "             "))
		}
	}
	for _, is := range s.Fake.Issues(s.Repo) {
		if is.IsPR {
			continue
		}
		for _, c := range s.Fake.Comments(s.Repo, is.Number) {
			if c.User != "rdsbot[bot]" || st.seenComment(c) {
				continue
			}
			fmt.Fprintf(st.W, "   issue #%d %q by %s, rdsbot's status comment:\n", is.Number, is.Title, is.User)
			fmt.Fprint(st.W, indent(stripMarker(c.Body), "             | "))
		}
	}
	fmt.Fprintln(st.W)
}

// seenComment reports (and records) whether this exact comment text was
// already shown.
func (st *Story) seenComment(c githubfake.Comment) bool {
	key := fmt.Sprintf("%d:%s", c.ID, c.Body)
	if st.seen[key] {
		return true
	}
	st.seen[key] = true
	return false
}

func stripMarker(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "<!-- rdsbot:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func prFiles(s *Sandbox, pr githubfake.PullInfo) []string {
	baseFiles, _ := s.Fake.Files(s.Repo, pr.BaseSHA)
	headFiles, _ := s.Fake.Files(s.Repo, pr.HeadSHA)
	all := map[string]bool{}
	for _, f := range append(baseFiles, headFiles...) {
		all[f] = true
	}
	var out []string
	for f := range all {
		a, _ := s.Fake.File(s.Repo, pr.BaseSHA, f)
		b, _ := s.Fake.File(s.Repo, pr.HeadSHA, f)
		if string(a) != string(b) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func (st *Story) summary() error {
	s := st.S
	tfvars, err := s.Fake.File(s.Repo, "main", "envs/test-rds/terraform.tfvars")
	if err != nil {
		return err
	}
	fmt.Fprintln(st.W, "Result on main")
	text := string(tfvars)
	if i := strings.Index(text, "\napplication_databases ="); i >= 0 {
		fmt.Fprint(st.W, indent("envs/test-rds/terraform.tfvars:"+text[i:], "   "))
	}
	m := s.Server.App().Metrics().Snapshot()
	fmt.Fprintf(st.W, "\n   %d webhook deliveries; rdsbot made %d GitHub API calls (%d writes, %d answered from the ETag cache)\n",
		len(s.Fake.Deliveries()), m.Total, m.Writes, m.NotModified)
	return nil
}
