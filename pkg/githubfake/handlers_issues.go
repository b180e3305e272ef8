package githubfake

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Issues, issue comments, labels and issue events.

func (f *Fake) issueByParam(c *call) (*repo, *Issue, bool) {
	r, ok := c.repo()
	if !ok {
		return nil, nil, false
	}
	n, ok := c.number("issue_number")
	if !ok {
		return nil, nil, false
	}
	is := r.issues[int(n)]
	if is == nil {
		c.notFound()
		return nil, nil, false
	}
	return r, is, true
}

func (f *Fake) createIssue(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Title     string   `json:"title"`
		Body      string   `json:"body"`
		Labels    []string `json:"labels"`
		Assignees []string `json:"assignees"`
	}
	if !c.decode(&req) {
		return
	}
	if f.requireRole(r, c.p.user, "write") != nil {
		// "Only users with push access can set labels for new issues.
		// Labels are silently dropped otherwise." (and assignees)
		req.Labels, req.Assignees = nil, nil
	}
	is, err := f.openIssue(r, c.p.user, req.Title, req.Body, req.Labels, req.Assignees)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.issueJSON(r, is, false))
}

func (f *Fake) getIssue(c *call) {
	if r, is, ok := f.issueByParam(c); ok {
		c.json(http.StatusOK, f.issueJSON(r, is, false))
	}
}

func (f *Fake) editIssue(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	var req struct {
		Title       *string   `json:"title"`
		Body        *string   `json:"body"`
		State       *string   `json:"state"`
		StateReason *string   `json:"state_reason"`
		Labels      *[]string `json:"labels"`
		Assignees   *[]string `json:"assignees"`
	}
	if !c.decode(&req) {
		return
	}
	err := f.editIssueOp(r, is, c.p.user, IssueEdit{Title: req.Title, Body: req.Body, State: req.State,
		StateReason: req.StateReason, Labels: req.Labels, Assignees: req.Assignees})
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.issueJSON(r, is, false))
}

// listIssues answers GET issues with state, labels (all must match),
// creator, assignee, sort and direction; pull requests are included as on GitHub.
func (f *Fake) listIssues(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	state := c.query("state")
	if state == "" {
		state = "open"
	}
	var labels []string
	if l := c.query("labels"); l != "" {
		labels = strings.Split(l, ",")
	}
	var list []*Issue
	for _, is := range r.issues {
		if state != "all" && is.State != state {
			continue
		}
		if cr := c.query("creator"); cr != "" && !strings.EqualFold(cr, is.User) {
			continue
		}
		if as := c.query("assignee"); as != "" && as != "*" && !containsFold(is.Assignees, as) {
			continue
		}
		match := true
		for _, l := range labels {
			if !is.hasLabel(strings.TrimSpace(l)) {
				match = false
			}
		}
		if match {
			list = append(list, is)
		}
	}
	asc := c.query("direction") == "asc"
	byUpdated := c.query("sort") == "updated"
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if byUpdated && !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.Before(b.UpdatedAt) == asc
		}
		return (a.Number < b.Number) == asc
	})
	out := []obj{}
	for _, is := range paginate(c, list) {
		out = append(out, f.issueJSON(r, is, false))
	}
	c.json(http.StatusOK, out)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (f *Fake) commentByParam(c *call) (*repo, *Comment, bool) {
	r, ok := c.repo()
	if !ok {
		return nil, nil, false
	}
	id, ok := c.number("comment_id")
	if !ok {
		return nil, nil, false
	}
	cm := r.comments[id]
	if cm == nil {
		c.notFound()
		return nil, nil, false
	}
	return r, cm, true
}

func (f *Fake) getComment(c *call) {
	if r, cm, ok := f.commentByParam(c); ok {
		c.json(http.StatusOK, f.commentJSON(r, cm))
	}
}

func (f *Fake) editComment(c *call) {
	r, cm, ok := f.commentByParam(c)
	if !ok {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.editCommentOp(r, cm, c.p.user, req.Body); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.commentJSON(r, cm))
}

func (f *Fake) listComments(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	out := []obj{}
	for _, cm := range paginate(c, is.Comments) {
		out = append(out, f.commentJSON(r, cm))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) createComment(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if !c.decode(&req) {
		return
	}
	cm, err := f.addComment(r, is, c.p.user, req.Body)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.commentJSON(r, cm))
}

func (f *Fake) listIssueLabels(c *call) {
	if r, is, ok := f.issueByParam(c); ok {
		c.json(http.StatusOK, paginate(c, f.issueLabelsJSON(r, is)))
	}
}

// labelNames accepts both request forms GitHub takes: ["a"] and {"labels": ["a"]}.
func labelNames(c *call) ([]string, bool) {
	var names []string
	if err := json.Unmarshal(c.body, &names); err == nil {
		return names, true
	}
	var wrapped struct {
		Labels []string `json:"labels"`
	}
	if !c.decode(&wrapped) {
		return nil, false
	}
	return wrapped.Labels, true
}

func (f *Fake) addIssueLabels(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	names, ok := labelNames(c)
	if !ok {
		return
	}
	if err := f.requireRole(r, c.p.user, "triage"); err != nil {
		c.answer(err)
		return
	}
	f.addLabels(r, is, c.p.user, names)
	c.json(http.StatusOK, f.issueLabelsJSON(r, is))
}

func (f *Fake) replaceIssueLabels(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	names, ok := labelNames(c)
	if !ok {
		return
	}
	if err := f.requireRole(r, c.p.user, "triage"); err != nil {
		c.answer(err)
		return
	}
	f.setLabels(r, is, c.p.user, names)
	c.json(http.StatusOK, f.issueLabelsJSON(r, is))
}

func (f *Fake) removeIssueLabel(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	name := c.param("name")
	if err := f.requireRole(r, c.p.user, "triage"); err != nil {
		c.answer(err)
		return
	}
	if err := f.removeLabel(r, is, c.p.user, name); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.issueLabelsJSON(r, is))
}

// issueEventJSON is GitHub's issue-event.
func (f *Fake) issueEventJSON(r *repo, ev *IssueEvent) obj {
	o := obj{
		"id": ev.ID, "node_id": nodeID("IE", ev.ID), "url": f.repoAPI(r) + "/issues/events/" + strconv.FormatInt(ev.ID, 10),
		"actor": f.userJSONByLogin(ev.Actor), "event": ev.Event, "commit_id": nullable(ev.CommitID),
		"commit_url": nil, "created_at": ts(ev.CreatedAt), "performed_via_github_app": nil,
	}
	if ev.CommitID != "" {
		o["commit_url"] = f.repoAPI(r) + "/commits/" + ev.CommitID
	}
	if ev.Label != "" {
		color := "ededed"
		if l := r.label(ev.Label); l != nil {
			color = l.Color
		}
		o["label"] = obj{"name": ev.Label, "color": color}
	}
	if ev.Event == "renamed" {
		o["rename"] = obj{"from": ev.From, "to": ev.To}
	}
	if ev.Event == "review_requested" || ev.Event == "review_request_removed" {
		o["review_requester"] = f.userJSONByLogin(ev.ReviewRequester)
		if ev.RequestedReviewer != "" {
			o["requested_reviewer"] = f.userJSONByLogin(ev.RequestedReviewer)
		}
		if org := f.orgs[strings.ToLower(r.owner.Login)]; org != nil && ev.RequestedTeam != "" {
			if t := org.teams[ev.RequestedTeam]; t != nil {
				tj := f.teamSimpleJSON(org, t)
				tj["parent"] = f.parentTeamJSON(org, t)
				o["requested_team"] = tj
			}
		}
	}
	if ev.Event == "review_dismissed" {
		o["dismissed_review"] = obj{"state": ev.DismissedState, "review_id": ev.DismissedReviewID,
			"dismissal_message": nullable(ev.DismissalMessage)}
	}
	return o
}

func (f *Fake) listIssueEvents(c *call) {
	r, is, ok := f.issueByParam(c)
	if !ok {
		return
	}
	out := []obj{}
	for _, ev := range paginate(c, is.Events) {
		out = append(out, f.issueEventJSON(r, ev))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) listLabels(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var list []*Label
	for _, l := range r.labels {
		list = append(list, l)
	}
	sort.Slice(list, func(i, j int) bool { return strings.ToLower(list[i].Name) < strings.ToLower(list[j].Name) })
	out := []obj{}
	for _, l := range paginate(c, list) {
		out = append(out, f.labelJSON(r, l))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) createLabel(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if !c.decode(&req) {
		return
	}
	if strings.TrimSpace(req.Name) == "" {
		c.answer(missingField("Label", "name"))
		return
	}
	if r.label(req.Name) != nil {
		c.invalid("Validation Failed", obj{"resource": "Label", "code": "already_exists", "field": "name"})
		return
	}
	color := strings.TrimPrefix(req.Color, "#")
	if color == "" {
		color = "ededed"
	}
	l := &Label{ID: f.id(), Name: req.Name, Color: color, Description: req.Description}
	r.labels[strings.ToLower(req.Name)] = l
	c.json(http.StatusCreated, f.labelJSON(r, l))
}

func (f *Fake) getLabel(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	name := c.param("name")
	l := r.label(name)
	if l == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, f.labelJSON(r, l))
}
