package githubfake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// apiError is a refused operation with GitHub's status, message and errors.
type apiError struct {
	status int
	msg    string
	errs   []any
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%d %s", e.status, e.msg)
	for _, x := range e.errs {
		if o, ok := x.(obj); ok {
			if m, ok := o["message"].(string); ok {
				msg += ": " + m
				continue
			}
			msg += fmt.Sprintf(": %v %v %v", o["resource"], o["field"], o["code"])
		}
	}
	return msg
}

func notFoundErr() *apiError { return &apiError{status: http.StatusNotFound, msg: "Not Found"} }

func missingField(resource, field string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
		errs: []any{obj{"resource": resource, "code": "missing_field", "field": field}}}
}

// answer turns an operation error into the response.
func (c *call) answer(err error) {
	if ae, ok := err.(*apiError); ok {
		if ae.status == http.StatusUnprocessableEntity {
			c.invalid(ae.msg, ae.errs...)
			return
		}
		c.fail(ae.status, ae.msg)
		return
	}
	c.fail(http.StatusInternalServerError, err.Error())
}

// Issue operations shared by the REST handlers and the test API. Callers hold f.mu.

func (f *Fake) openIssue(r *repo, actor *User, title, body string, labels, assignees []string) (*Issue, error) {
	if strings.TrimSpace(title) == "" {
		return nil, missingField("Issue", "title")
	}
	now := f.now()
	is := &Issue{ID: f.id(), Number: r.nextNumber, Title: title, Body: body, User: actor.Login,
		State: "open", Assignees: append([]string{}, assignees...), CreatedAt: now, UpdatedAt: now}
	r.nextNumber++
	r.issues[is.Number] = is
	for _, name := range labels {
		f.ensureLabel(r, name)
		if !is.hasLabel(name) {
			is.Labels = append(is.Labels, IssueLabel{Name: r.label(name).Name, AddedBy: actor.Login, AddedAt: now})
			is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: "labeled", Actor: actor.Login, Label: r.label(name).Name, CreatedAt: now})
		}
	}
	f.emitIssue(r, is, "opened", actor, nil)
	return is, nil
}

// ensureLabel returns the repository label, creating it (as GitHub does when
// a missing label is added to an issue).
func (f *Fake) ensureLabel(r *repo, name string) *Label {
	if l := r.label(name); l != nil {
		return l
	}
	l := &Label{ID: f.id(), Name: name, Color: "ededed"}
	r.labels[strings.ToLower(name)] = l
	return l
}

func (f *Fake) addLabels(r *repo, is *Issue, actor *User, names []string) {
	now := f.now()
	for _, name := range names {
		if strings.TrimSpace(name) == "" || is.hasLabel(name) {
			continue
		}
		l := f.ensureLabel(r, name)
		is.Labels = append(is.Labels, IssueLabel{Name: l.Name, AddedBy: actor.Login, AddedAt: now})
		is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: "labeled", Actor: actor.Login, Label: l.Name, CreatedAt: now})
		is.UpdatedAt = now
		f.emitIssue(r, is, "labeled", actor, obj{"label": f.labelJSON(r, l)})
	}
}

func (f *Fake) removeLabel(r *repo, is *Issue, actor *User, name string) error {
	i := slices.IndexFunc(is.Labels, func(l IssueLabel) bool { return strings.EqualFold(l.Name, name) })
	if i < 0 {
		return &apiError{status: http.StatusNotFound, msg: "Label does not exist"}
	}
	now := f.now()
	l := r.label(name)
	is.Labels = slices.Delete(is.Labels, i, i+1)
	is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: "unlabeled", Actor: actor.Login, Label: l.Name, CreatedAt: now})
	is.UpdatedAt = now
	f.emitIssue(r, is, "unlabeled", actor, obj{"label": f.labelJSON(r, l)})
	return nil
}

// setLabels replaces an issue's labels: removes the ones not named, adds new ones.
func (f *Fake) setLabels(r *repo, is *Issue, actor *User, names []string) {
	for _, il := range slices.Clone(is.Labels) {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, il.Name) }) {
			_ = f.removeLabel(r, is, actor, il.Name)
		}
	}
	f.addLabels(r, is, actor, names)
}

// IssueEdit is a change to an issue; nil fields stay as they are.
type IssueEdit struct {
	Title       *string
	Body        *string
	State       *string // open, closed
	StateReason *string
	Labels      *[]string // replaces all labels
	Assignees   *[]string
}

func (f *Fake) editIssueOp(r *repo, is *Issue, actor *User, e IssueEdit) error {
	if e.Title != nil && strings.TrimSpace(*e.Title) == "" {
		return missingField("Issue", "title")
	}
	if e.State != nil && *e.State != "open" && *e.State != "closed" {
		return &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
			errs: []any{obj{"resource": "Issue", "code": "invalid", "field": "state"}}}
	}
	now := f.now()
	changes := obj{}
	if e.Title != nil && *e.Title != is.Title {
		changes["title"] = obj{"from": is.Title}
		is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: "renamed", Actor: actor.Login, From: is.Title, To: *e.Title, CreatedAt: now})
		is.Title = *e.Title
	}
	if e.Body != nil && *e.Body != is.Body {
		changes["body"] = obj{"from": is.Body}
		is.Body = *e.Body
	}
	if e.Assignees != nil {
		is.Assignees = slices.Clone(*e.Assignees)
	}
	if len(changes) > 0 {
		is.UpdatedAt = now
		f.emitIssue(r, is, "edited", actor, obj{"changes": changes})
	}
	if e.Labels != nil {
		if err := f.requireRole(r, actor, "triage"); err != nil {
			return err
		}
		f.setLabels(r, is, actor, *e.Labels)
	}
	if e.State != nil && *e.State != is.State {
		if is.IsPR && *e.State == "open" && r.pulls[is.Number].Merged {
			return &apiError{status: http.StatusUnprocessableEntity, msg: "Validation Failed",
				errs: []any{obj{"resource": "PullRequest", "code": "custom", "message": "Cannot reopen a merged pull request"}}}
		}
		is.State, is.UpdatedAt = *e.State, now
		if e.StateReason != nil {
			is.StateReason = *e.StateReason
		}
		action := "reopened"
		if is.State == "closed" {
			action = "closed"
			is.ClosedAt, is.ClosedBy = now, actor.Login
			if is.StateReason == "" && !is.IsPR {
				is.StateReason = "completed"
			}
			if pr := r.pulls[is.Number]; pr != nil {
				pr.HeadSHA, pr.BaseSHA = f.pullSHAs(r, pr)
				f.leaveQueue(r, pr, actor, dequeueUnknown)
			}
		} else {
			is.ClosedAt, is.ClosedBy = time.Time{}, ""
			if !is.IsPR {
				is.StateReason = "reopened"
			}
		}
		is.Events = append(is.Events, &IssueEvent{ID: f.id(), Event: action, Actor: actor.Login, CreatedAt: now})
		f.emitIssue(r, is, action, actor, nil)
	}
	return nil
}

func (f *Fake) addComment(r *repo, is *Issue, actor *User, body string) (*Comment, error) {
	if strings.TrimSpace(body) == "" {
		return nil, missingField("IssueComment", "body")
	}
	now := f.now()
	cm := &Comment{ID: f.id(), IssueNumber: is.Number, Body: body, User: actor.Login, CreatedAt: now, UpdatedAt: now}
	is.Comments = append(is.Comments, cm)
	is.UpdatedAt = now
	r.comments[cm.ID] = cm
	f.emitComment(r, is, cm, "created", actor, nil)
	return cm, nil
}

func (f *Fake) editCommentOp(r *repo, cm *Comment, actor *User, body string) error {
	if strings.TrimSpace(body) == "" {
		return missingField("IssueComment", "body")
	}
	if body == cm.Body {
		return nil
	}
	from := cm.Body
	cm.Body, cm.UpdatedAt = body, f.now()
	f.emitComment(r, r.issues[cm.IssueNumber], cm, "edited", actor, obj{"body": obj{"from": from}})
	return nil
}
