package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check runs and commit statuses.

// checkRunRequest is the body of create and update check run.
type checkRunRequest struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Text    string `json:"text"`
	} `json:"output"`
}

var (
	checkStatuses    = []string{"queued", "in_progress", "completed", "waiting", "requested", "pending"}
	checkConclusions = []string{"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)

// apply copies the request onto a check run; it returns a 422 message or "".
func (req checkRunRequest) apply(cr *CheckRun, now time.Time) string {
	if req.Name != nil && *req.Name != "" {
		cr.Name = *req.Name
	}
	if req.DetailsURL != nil {
		cr.DetailsURL = *req.DetailsURL
	}
	if req.ExternalID != nil {
		cr.ExternalID = *req.ExternalID
	}
	if req.Status != nil {
		if !slices.Contains(checkStatuses, *req.Status) {
			return "Invalid request.\n\nstatus is not included in the list"
		}
		cr.Status = *req.Status
	}
	if req.Conclusion != nil {
		if !slices.Contains(checkConclusions, *req.Conclusion) {
			return "Invalid request.\n\nconclusion is not included in the list"
		}
		cr.Conclusion, cr.Status = *req.Conclusion, "completed"
	}
	if cr.Status == "completed" && cr.Conclusion == "" {
		return "Invalid request.\n\n\"conclusion\" wasn't supplied."
	}
	for _, t := range []struct {
		in  *string
		out *time.Time
	}{{req.StartedAt, &cr.StartedAt}, {req.CompletedAt, &cr.CompletedAt}} {
		if t.in != nil {
			parsed, err := time.Parse(time.RFC3339, *t.in)
			if err != nil {
				return "Invalid request.\n\nFor 'properties/started_at', is not a date-time."
			}
			*t.out = parsed
		}
	}
	if cr.Status == "completed" && cr.CompletedAt.IsZero() {
		cr.CompletedAt = now
	}
	if req.Output != nil {
		cr.Title, cr.Summary, cr.Text = req.Output.Title, req.Output.Summary, req.Output.Text
	}
	return ""
}

func (f *Fake) createCheckRun(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	if c.p.inst == nil {
		c.fail(http.StatusForbidden, "You must authenticate via a GitHub App.")
		return
	}
	var req checkRunRequest
	if !c.decode(&req) {
		return
	}
	cr, err := f.createCheckRunOp(r, c.p.inst.app, req)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.checkRunJSON(r, cr, false))
}

// createCheckRunOp creates a check run as an App (check_run created, and
// completed when it is). Callers hold f.mu.
func (f *Fake) createCheckRunOp(r *repo, app *App, req checkRunRequest) (*CheckRun, error) {
	if req.Name == nil || *req.Name == "" {
		return nil, missingField("CheckRun", "name")
	}
	sha, found := r.resolve(req.HeadSHA)
	if !found || req.HeadSHA == "" {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "No commit found for SHA: " + req.HeadSHA}
	}
	now := f.now()
	suiteKey := fmt.Sprintf("%d/%s", app.ID, sha)
	if r.suites[suiteKey] == 0 {
		r.suites[suiteKey] = f.id()
	}
	cr := &CheckRun{ID: f.id(), SuiteID: r.suites[suiteKey], AppID: app.ID, HeadSHA: sha, Status: "queued", StartedAt: now}
	if msg := req.apply(cr, now); msg != "" {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: msg}
	}
	r.checkRuns = append(r.checkRuns, cr)
	f.emitCheckRun(r, cr, "created", app.bot)
	f.checksChanged(r)
	return cr, nil
}

func (f *Fake) checkRunByParam(c *call) (*repo, *CheckRun, bool) {
	r, ok := c.repo()
	if !ok {
		return nil, nil, false
	}
	id, ok := c.number("check_run_id")
	if !ok {
		return nil, nil, false
	}
	for _, cr := range r.checkRuns {
		if cr.ID == id {
			return r, cr, true
		}
	}
	c.notFound()
	return nil, nil, false
}

func (f *Fake) getCheckRun(c *call) {
	if r, cr, ok := f.checkRunByParam(c); ok {
		c.json(http.StatusOK, f.checkRunJSON(r, cr, false))
	}
}

func (f *Fake) updateCheckRun(c *call) {
	r, cr, ok := f.checkRunByParam(c)
	if !ok {
		return
	}
	if c.p.inst == nil || c.p.inst.app.ID != cr.AppID {
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	var req checkRunRequest
	if !c.decode(&req) {
		return
	}
	was := cr.Status
	next := *cr
	if msg := req.apply(&next, f.now()); msg != "" {
		c.invalid(msg)
		return
	}
	*cr = next
	if was != "completed" && cr.Status == "completed" {
		f.emitCheckRun(r, cr, "completed", c.p.user)
	}
	f.checksChanged(r)
	c.json(http.StatusOK, f.checkRunJSON(r, cr, false))
}

// listCheckRunsForRef answers GET commits/{ref}/check-runs with check_name,
// status and app_id; by default only the latest run per App and name, like
// GitHub's filter=latest (a run of the same name from another App is
// listed too, never hidden).
func (f *Fake) listCheckRunsForRef(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	sha, found := r.resolve(c.param("ref"))
	if !found {
		c.invalid("No commit found for SHA: " + c.param("ref"))
		return
	}
	var appID int64
	if v := c.query("app_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			c.invalid("Invalid request.\n\nFor 'app_id', \"" + v + "\" is not an integer.")
			return
		}
		appID = n
	}
	var list []*CheckRun
	seen := map[string]bool{}
	for i := len(r.checkRuns) - 1; i >= 0; i-- {
		cr := r.checkRuns[i]
		if cr.HeadSHA != sha {
			continue
		}
		if name := c.query("check_name"); name != "" && cr.Name != name {
			continue
		}
		if st := c.query("status"); st != "" && cr.Status != st {
			continue
		}
		if appID != 0 && cr.AppID != appID {
			continue
		}
		if c.query("filter") != "all" {
			key := fmt.Sprintf("%d/%s", cr.AppID, cr.Name)
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		list = append(list, cr)
	}
	out := []obj{}
	for _, cr := range paginate(c, list) {
		out = append(out, f.checkRunJSON(r, cr, false))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "check_runs": out})
}

func (f *Fake) createStatus(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if !c.decode(&req) {
		return
	}
	var appID int64
	if c.p.inst != nil {
		appID = c.p.inst.app.ID
	}
	s, err := f.createStatusOp(r, c.p.user, appID, c.param("sha"), NewStatus{State: req.State, Context: req.Context,
		Description: req.Description, TargetURL: req.TargetURL})
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.statusJSON(r, s))
}

// NewStatus is a commit status to set (Actor.PostStatus).
type NewStatus struct {
	State       string // error, failure, pending, success
	Context     string // default "default"
	Description string
	TargetURL   string
}

// createStatusOp sets a commit status as a person with write access or an
// App (appID), with any context, and sends status. Callers hold f.mu.
func (f *Fake) createStatusOp(r *repo, actor *User, appID int64, sha string, in NewStatus) (*Status, error) {
	if !slices.Contains([]string{"error", "failure", "pending", "success"}, in.State) {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
			errs: []any{obj{"resource": "Status", "code": "custom", "field": "state", "message": "state is not included in the list"}}}
	}
	if o, found := r.objects.get(sha); !found || o.typ != objCommit {
		return nil, &apiError{status: http.StatusUnprocessableEntity, msg: "No commit found for SHA: " + sha}
	}
	if err := f.requireRole(r, actor, "write"); err != nil {
		return nil, err
	}
	if in.Context == "" {
		in.Context = "default"
	}
	now := f.now()
	s := &Status{ID: f.id(), SHA: strings.ToLower(sha), State: in.State, Context: in.Context, Description: in.Description,
		TargetURL: in.TargetURL, Creator: actor.Login, AppID: appID, CreatedAt: now, UpdatedAt: now}
	r.statuses = append(r.statuses, s)
	f.emitStatus(r, s, actor)
	f.checksChanged(r)
	return s, nil
}

// statusesFor lists a ref's statuses, newest first.
func (f *Fake) statusesFor(c *call) (*repo, string, []*Status, bool) {
	r, ok := c.repo()
	if !ok {
		return nil, "", nil, false
	}
	sha, found := r.resolve(c.param("ref"))
	if !found {
		c.notFound()
		return nil, "", nil, false
	}
	var list []*Status
	for i := len(r.statuses) - 1; i >= 0; i-- {
		if r.statuses[i].SHA == sha {
			list = append(list, r.statuses[i])
		}
	}
	return r, sha, list, true
}

func (f *Fake) listStatuses(c *call) {
	r, _, list, ok := f.statusesFor(c)
	if !ok {
		return
	}
	out := []obj{}
	for _, s := range paginate(c, list) {
		out = append(out, f.statusJSON(r, s))
	}
	c.json(http.StatusOK, out)
}

// getCombinedStatus answers the latest status per context and their combination.
func (f *Fake) getCombinedStatus(c *call) {
	r, sha, list, ok := f.statusesFor(c)
	if !ok {
		return
	}
	seen := map[string]bool{}
	latest := []obj{}
	state := "success"
	for _, s := range list {
		if seen[s.Context] {
			continue
		}
		seen[s.Context] = true
		latest = append(latest, f.statusJSON(r, s))
		switch {
		case s.State == "error" || s.State == "failure":
			state = "failure"
		case s.State == "pending" && state != "failure":
			state = "pending"
		}
	}
	if len(latest) == 0 {
		state = "pending"
	}
	c.json(http.StatusOK, obj{
		"state": state, "statuses": latest, "sha": sha, "total_count": len(latest),
		"repository": f.repoLiteJSON(r), "commit_url": f.repoAPI(r) + "/commits/" + sha,
		"url": f.repoAPI(r) + "/commits/" + sha + "/status",
	})
}
