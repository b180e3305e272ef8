package sandbox

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rdsbot/rdsbot/pkg/apply/tfstandin"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/diff"
	"github.com/rdsbot/rdsbot/pkg/githubfake"
	"github.com/rdsbot/rdsbot/pkg/jobs"
	"github.com/rdsbot/rdsbot/pkg/secrets"
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
	// Postgres says where provisioning happens, for the header: "" when
	// the sandbox provisions as a dry run.
	Postgres string

	deliveries int             // deliveries already shown
	mainSeen   map[string]bool // commits on main already shown
	shownPR    map[int]string  // pull request -> head and state shown
	seen       map[string]bool // comment id and text shown
	started    time.Time
	calls      int64 // rdsbot's GitHub calls already shown
	writes     int64 // and its writes
}

const formPath = ".github/ISSUE_TEMPLATE/rds-request.yml"

// Play runs every scene and returns the first failure.
func (st *Story) Play(ctx context.Context) error {
	st.shownPR, st.seen, st.started = map[int]string{}, map[string]bool{}, time.Now()
	s := st.S
	files, _ := s.Fake.Files(s.Repo, "main")
	st.mainSeen = map[string]bool{}
	if cs, err := s.Fake.Commits(s.Repo, "main"); err == nil {
		for _, c := range cs {
			st.mainSeen[c.SHA] = true
		}
	}
	fmt.Fprintf(st.W, "rdsbot sandbox\n")
	fmt.Fprintf(st.W, "  GitHub (githubfake)  %s   org %s, repository %s (%d files)\n", s.GitHubURL, Org, s.Repo, len(files))
	fmt.Fprintf(st.W, "  rdsbot               %s   App %q (id %d) installed; jobs in %s\n", s.ServerURL, s.App.Slug, s.App.ID, s.Dir)
	fmt.Fprintf(st.W, "  people               %s (app-team), %s (platform-team), %s (security-team), %s (database-team), erin (an org member in no team), %s\n", Requester, Platform, Security, DBA, Backstage)
	if s.Rollout != nil {
		fmt.Fprintf(st.W, "  terraform            %s (a stand-in: neither terraform nor tofu is installed here)\n", s.Rollout.Terraform)
		fmt.Fprintf(st.W, "  secrets              AWS Secrets Manager stand-in at %s\n", s.Rollout.SecretsURL)
		if st.Postgres != "" {
			fmt.Fprintf(st.W, "  postgres             %s (a throwaway cluster shaped like RDS: TLS, SCRAM, a master user that is not a superuser)\n", st.Postgres)
		} else {
			fmt.Fprintf(st.W, "  postgres             none: PostgreSQL's binaries (initdb, postgres) are not installed, so provisioning is a DRY RUN that only lists its statements\n")
		}
	}
	fmt.Fprintln(st.W)

	// alice's first try has two mistakes: rdsbot names both at once, and
	// her edit of the issue is the fix.
	orders := map[string]string{
		"Database name": "Orders-Service", "Application username": "postgres", "Environment": "test",
		"Owning team": "app-team", "Domain": "delivery", "Risk": "medium", "Size tier": "small",
	}
	var ordersIssue int
	scenes := []struct {
		title string
		act   func() error
	}{
		{"alice asks for a database with the issue form, with two mistakes (a name with capitals and a hyphen, a reserved username)", func() error {
			n, err := s.Fake.As(Requester).OpenIssueForm(s.Repo, formPath, "orders database", orders)
			ordersIssue = n
			return err
		}},
		{"alice fixes her request by editing the issue (test: coupled mode, so both tfvars change)", func() error {
			is, err := s.Fake.Issue(s.Repo, ordersIssue)
			if err != nil {
				return err
			}
			body := strings.NewReplacer("Orders-Service", "orders_service", "### Application username\n\npostgres", "### Application username\n\norders_app").Replace(is.Body)
			if body == is.Body {
				return fmt.Errorf("the form's answers were not found in issue #%d", ordersIssue)
			}
			return s.Fake.As(Requester).EditIssue(s.Repo, ordersIssue, githubfake.IssueEdit{Body: &body})
		}},
		{"Backstage dispatches create-rds-database.yml with the ten inputs (same environment, size large)", func() error {
			_, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", map[string]any{
				"base_branch": "main", "environment": "test", "database_name": "payments", "username": "payments_app",
				"owner": "app-team", "user": Requester, "domain": "cost", "risk": "low", "size": "large", "initial_schema": "none",
			})
			return err
		}},
		{"erin adds platform-approval to the Backstage pull request: not hers to give, so rdsbot removes it and says why", func() error {
			pr, err := st.pullOf("rds/test/payments")
			if err != nil {
				return err
			}
			st.S.Fake.Advance(2 * time.Second)
			return s.Fake.As("erin").AddLabels(s.Repo, pr, "platform-approval")
		}},
		{"bob (platform-team) approves alice's pull request and merges it: plan check, apply, provisioning, catalog active, issue closed", func() error {
			return st.approveAndMerge(ordersIssue, false)
		}},
		{"bob adds platform-approval (large size) and approves the re-planned Backstage request, then merges it", func() error {
			return st.approveAndMerge(st.issueOf("rds/test/payments"), true)
		}},
	}
	for i, sc := range scenes {
		fmt.Fprintf(st.W, "%d. %s   [%.1fs]\n", i+1, sc.title, time.Since(st.started).Seconds())
		if err := sc.act(); err != nil {
			return fmt.Errorf("scene %d: %w", i+1, err)
		}
		if err := s.Settle(ctx, 60*time.Second); err != nil {
			return fmt.Errorf("scene %d: %w", i+1, err)
		}
		st.narrate()
	}
	return st.summary(ctx)
}

// pullOf is the open pull request of a branch.
func (st *Story) pullOf(branch string) (int, error) {
	for _, pr := range st.S.Fake.PullRequests(st.S.Repo) {
		if pr.Head == branch && pr.Issue.State == "open" {
			return pr.Number, nil
		}
	}
	return 0, fmt.Errorf("no open pull request on %s", branch)
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

// approveAndMerge has bob approve (and label, for a large size) the
// request's pull request a moment after its last push, then merge it.
func (st *Story) approveAndMerge(issue int, label bool) error {
	s := st.S
	for _, pr := range s.Fake.PullRequests(s.Repo) {
		if !strings.Contains(pr.Issue.Body, fmt.Sprintf("Request: #%d\n", issue)) || pr.Issue.State != "open" {
			continue
		}
		s.Fake.Advance(2 * time.Second)
		if label {
			if err := s.Fake.As(Platform).AddLabels(s.Repo, pr.Number, "platform-approval"); err != nil {
				return err
			}
		}
		if _, err := s.Fake.As(Platform).Approve(s.Repo, pr.Number); err != nil {
			return err
		}
		if err := s.Settle(context.Background(), 60*time.Second); err != nil {
			return err
		}
		_, err := s.Fake.As(Platform).Merge(s.Repo, pr.Number, "merge")
		return err
	}
	return fmt.Errorf("no open pull request for issue #%d", issue)
}

// countList renders counts as "a ×2, b ×1", sorted by name.
func countList(counts map[string]int) string {
	parts := make([]string, 0, len(counts))
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
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
	if fresh := ds[st.deliveries:]; len(fresh) > 0 {
		counts := map[string]int{}
		failed := 0
		for _, d := range fresh {
			name := d.Event
			if d.Action != "" {
				name += "." + d.Action
			}
			counts[name]++
			if d.Done && !d.Delivered {
				failed++
			}
		}
		fmt.Fprintf(st.W, "   webhooks  %s", countList(counts))
		if failed > 0 {
			fmt.Fprintf(st.W, " (%d not accepted)", failed)
		}
		fmt.Fprintln(st.W)
	}
	st.deliveries = len(ds)
	if cs, err := s.Fake.Commits(s.Repo, "main"); err == nil {
		var fresh []githubfake.CommitInfo
		for i := len(cs) - 1; i >= 0; i-- { // oldest first
			if c := cs[i]; !st.mainSeen[c.SHA] {
				st.mainSeen[c.SHA] = true
				fresh = append(fresh, c)
			}
		}
		sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].Committer.Date.Before(fresh[j].Committer.Date) })
		for _, c := range fresh {
			subject, _, _ := strings.Cut(c.Message, "\n")
			fmt.Fprintf(st.W, "   main      %.10s %s\n", c.SHA, subject)
		}
	}
	if m := s.Server.App().Metrics().Snapshot(); m.Total > st.calls {
		fmt.Fprintf(st.W, "   github    rdsbot made %d calls, %d of them writes (%d writes so far; GitHub allows 80 a minute)\n",
			m.Total-st.calls, m.Writes-st.writes, m.Writes)
		st.calls, st.writes = m.Total, m.Writes
	}
	if jobsDone := st.Rec.take(); len(jobsDone) > 0 {
		counts := map[string]int{}
		for _, j := range jobsDone {
			counts[j]++
		}
		fmt.Fprintf(st.W, "   jobs      %s\n", countList(counts))
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

func (st *Story) summary(ctx context.Context) error {
	s := st.S
	fmt.Fprintf(st.W, "Result   [%.1fs]\n\n", time.Since(st.started).Seconds())
	fmt.Fprintf(st.W, "   %-7s %-10s %-5s %-16s %-13s %-6s %-7s %s\n", "request", "requester", "env", "database", "catalog", "PR", "issue", "secret")
	var login *loginLine
	for _, is := range s.Fake.Issues(s.Repo) {
		if is.IsPR {
			continue
		}
		env, db, status, secret, requester := st.catalogOf(is.Number)
		if requester == "" {
			requester = is.User
		}
		pr := "-"
		for _, p := range s.Fake.PullRequests(s.Repo) {
			if strings.Contains(p.Issue.Body, fmt.Sprintf("Request: #%d\n", is.Number)) {
				pr = fmt.Sprintf("#%d", p.Number)
			}
		}
		fmt.Fprintf(st.W, "   #%-6d %-10s %-5s %-16s %-13s %-6s %-7s %s\n", is.Number, requester, env, db, status, pr, is.State, secret)
		if login == nil && status == "active" && s.Rollout != nil && st.Postgres != "" {
			login = st.login(ctx, secret, db)
		}
	}
	if s.Rollout != nil {
		if calls, err := tfstandin.ReadCalls(s.Rollout.TerraformDir); err == nil {
			n := map[string]int{}
			for _, c := range calls {
				if len(c.Args) > 0 {
					n[c.Args[0]]++
				}
			}
			fmt.Fprintf(st.W, "\n   terraform (stand-in) ran %s; its calls are in %s\n", countList(n), filepath.Join(s.Rollout.TerraformDir, "calls.jsonl"))
		}
	}
	m := s.Server.App().Metrics().Snapshot()
	fmt.Fprintf(st.W, "   %d webhook deliveries; rdsbot made %d GitHub API calls (%d writes, %d answered from the ETag cache)\n",
		len(s.Fake.Deliveries()), m.Total, m.Writes, m.NotModified)
	switch {
	case login != nil:
		fmt.Fprintf(st.W, "\n   Log in as the provisioned app user (while the sandbox runs: add --keep; this cluster and password are throwaway):\n\n     %s\n", login)
	case s.Rollout != nil && st.Postgres == "":
		fmt.Fprintf(st.W, "\n   Provisioning was a dry run (no PostgreSQL binaries): install postgresql (initdb, postgres) and run again to provision for real.\n")
	}
	return nil
}

// catalogOf finds a request's entry in the catalogs on main.
func (st *Story) catalogOf(issue int) (env, db, status, secret, requester string) {
	id := fmt.Sprintf("RDS-%04d", issue)
	for _, e := range environments {
		path := "rds-catalog/" + e + ".yaml"
		src, err := st.S.Fake.File(st.S.Repo, "main", path)
		if err != nil {
			continue
		}
		f, err := catalog.Parse(src, catalog.Options{Layout: catalog.LayoutPerEnv, Environment: e, Filename: path})
		if err != nil {
			continue
		}
		for _, en := range f.Entries() {
			if en.Metadata.RequestID == id {
				return e, en.Name, string(en.Metadata.Status), en.Configuration.SecretPath, en.Metadata.RequestedBy
			}
		}
	}
	return "-", "-", "-", "-", ""
}

// loginLine is a psql command line.
type loginLine struct {
	user, password, host, db, ca string
	port                         int
}

func (l *loginLine) String() string {
	return fmt.Sprintf("PGPASSWORD='%s' psql \"host=%s port=%d dbname=%s user=%s sslmode=verify-full sslrootcert=%s\"", l.password, l.host, l.port, l.db, l.user, l.ca)
}

// login reads an app user's secret for the psql line.
func (st *Story) login(ctx context.Context, secret, db string) *loginLine {
	sec, err := st.S.Rollout.Options.Secrets.Get(ctx, secret)
	if err != nil {
		return nil
	}
	c, err := secrets.ParseCredentials(sec.Value)
	if err != nil {
		return nil
	}
	ca := st.S.Rollout.Options.Admin.RootCAFile
	return &loginLine{user: c.Username, password: c.Password, host: c.Host, port: c.Port, db: db, ca: ca}
}
