package githubfake

import (
	"fmt"
	"strings"
)

// checkPullsJSON lists open pull requests whose head is sha (check runs and
// workflow runs carry them).
func (f *Fake) checkPullsJSON(r *repo, sha string) []obj {
	out := []obj{}
	for n := 1; n < r.nextNumber; n++ {
		pr := r.pulls[n]
		if pr == nil || pr.issue.State != "open" {
			continue
		}
		head, base := f.pullSHAs(r, pr)
		if head != sha {
			continue
		}
		mini := obj{"id": r.ID, "url": f.repoAPI(r), "name": r.name}
		out = append(out, obj{
			"url": fmt.Sprintf("%s/pulls/%d", f.repoAPI(r), pr.Number), "id": pr.ID, "number": pr.Number,
			"head": obj{"ref": pr.Head, "sha": head, "repo": mini},
			"base": obj{"ref": pr.Base, "sha": base, "repo": mini},
		})
	}
	return out
}

// webhookAppJSON is the App as webhook payloads embed it.
func (f *Fake) webhookAppJSON(a *App) obj {
	o := f.appJSON(a)
	delete(o, "client_id")
	delete(o, "installations_count")
	return o
}

// checkRunJSON is GitHub's check-run.
func (f *Fake) checkRunJSON(r *repo, cr *CheckRun, webhook bool) obj {
	app := f.apps[cr.AppID]
	url := fmt.Sprintf("%s/check-runs/%d", f.repoAPI(r), cr.ID)
	suiteURL := fmt.Sprintf("%s/check-suites/%d", f.repoAPI(r), cr.SuiteID)
	suite := obj{"id": cr.SuiteID}
	var appObj obj
	if app != nil {
		appObj = f.appJSON(app)
	}
	if webhook {
		if app != nil {
			appObj = f.webhookAppJSON(app)
		}
		var branch any
		for ref, sha := range r.refs {
			if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && sha == cr.HeadSHA {
				branch = b
				break
			}
		}
		suite = obj{
			"id": cr.SuiteID, "node_id": nodeID("CS", cr.SuiteID), "head_branch": branch, "head_sha": cr.HeadSHA,
			"status": cr.Status, "conclusion": nullable(cr.Conclusion), "url": suiteURL,
			"before": nil, "after": cr.HeadSHA, "pull_requests": f.checkPullsJSON(r, cr.HeadSHA),
			"app": appObj, "created_at": ts(cr.StartedAt), "updated_at": ts(cr.StartedAt),
		}
	}
	return obj{
		"id": cr.ID, "node_id": nodeID("CR", cr.ID), "head_sha": cr.HeadSHA, "name": cr.Name,
		"external_id": cr.ExternalID, "url": url,
		"html_url":    fmt.Sprintf("%s/%s/runs/%d", f.baseURL, r.fullName(), cr.ID),
		"details_url": nullableOr(cr.DetailsURL, webhook, f.baseURL+"/"+r.fullName()+"/runs/"+fmt.Sprint(cr.ID)),
		"status":      cr.Status, "conclusion": nullable(cr.Conclusion),
		"started_at": ts(cr.StartedAt), "completed_at": ts(cr.CompletedAt),
		"output": obj{
			"title": nullable(cr.Title), "summary": nullable(cr.Summary), "text": nullable(cr.Text),
			"annotations_count": 0, "annotations_url": url + "/annotations",
		},
		"check_suite": suite, "app": appObj, "pull_requests": f.checkPullsJSON(r, cr.HeadSHA),
	}
}

// nullableOr is "" as null, except where the webhook schema wants a URL.
func nullableOr(s string, webhook bool, fallback string) any {
	if s != "" {
		return s
	}
	if webhook {
		return fallback
	}
	return nil
}

// statusJSON is GitHub's commit status.
func (f *Fake) statusJSON(r *repo, s *Status) obj {
	return obj{
		"url": f.repoAPI(r) + "/statuses/" + s.SHA, "avatar_url": nil, "id": s.ID, "node_id": nodeID("SC", s.ID),
		"state": s.State, "description": nullable(s.Description), "target_url": nullable(s.TargetURL),
		"context": s.Context, "created_at": ts(s.CreatedAt), "updated_at": ts(s.UpdatedAt),
		"creator": f.userJSONByLogin(s.Creator),
	}
}

// workflowJSON is GitHub's workflow.
func (f *Fake) workflowJSON(r *repo, wf *workflow) obj {
	return obj{
		"id": wf.ID, "node_id": nodeID("W", wf.ID), "name": wf.Name, "path": wf.Path, "state": "active",
		"created_at": ts(wf.created), "updated_at": ts(wf.created),
		"url":       fmt.Sprintf("%s/actions/workflows/%d", f.repoAPI(r), wf.ID),
		"html_url":  f.baseURL + "/" + r.fullName() + "/blob/" + r.defaultBranch + "/" + wf.Path,
		"badge_url": f.baseURL + "/" + r.fullName() + "/workflows/" + wf.Name + "/badge.svg",
	}
}

// repoLiteKeys are the properties of a minimal repository (webhook repository-lite).
var repoLiteKeys = strings.Fields(`archive_url assignees_url blobs_url branches_url collaborators_url
comments_url commits_url compare_url contents_url contributors_url deployments_url description downloads_url
events_url fork forks_url full_name git_commits_url git_refs_url git_tags_url hooks_url html_url id
issue_comment_url issue_events_url issues_url keys_url labels_url languages_url merges_url milestones_url
name node_id notifications_url owner private pulls_url releases_url stargazers_url statuses_url
subscribers_url subscription_url tags_url teams_url trees_url url`)

func (f *Fake) repoLiteJSON(r *repo) obj {
	full := f.repoJSON(r, true)
	out := obj{}
	for _, k := range repoLiteKeys {
		out[k] = full[k]
	}
	return out
}

// runJSON is GitHub's workflow-run.
func (f *Fake) runJSON(r *repo, run *WorkflowRun, webhook bool) obj {
	url := fmt.Sprintf("%s/actions/runs/%d", f.repoAPI(r), run.ID)
	var head any
	if c, err := r.objects.commit(run.HeadSHA); err == nil {
		head = obj{
			"id": run.HeadSHA, "tree_id": c.Tree, "message": c.Message, "timestamp": ts(c.Committer.Date),
			"author":    obj{"name": c.Author.Name, "email": c.Author.Email},
			"committer": obj{"name": c.Committer.Name, "email": c.Committer.Email},
		}
	}
	repoObj := f.repoLiteJSON(r)
	var runStarted any = ts(run.startedAt())
	o := obj{
		"id": run.ID, "name": run.Name, "node_id": nodeID("WFR", run.ID),
		"check_suite_id": run.ID + 1, "check_suite_node_id": nodeID("CS", run.ID+1),
		"head_branch": nullable(run.HeadBranch), "head_sha": run.HeadSHA, "path": run.WorkflowPath,
		"run_number": run.RunNumber, "run_attempt": run.attempt(), "event": run.Event, "display_title": run.title(),
		"status": run.Status, "conclusion": nullable(run.Conclusion), "workflow_id": run.WorkflowID,
		"url": url, "html_url": fmt.Sprintf("%s/%s/actions/runs/%d", f.baseURL, r.fullName(), run.ID),
		"pull_requests": f.checkPullsJSON(r, run.HeadSHA),
		"created_at":    ts(run.CreatedAt), "updated_at": ts(run.UpdatedAt), "run_started_at": runStarted,
		"actor": f.userJSONByLogin(run.Actor), "triggering_actor": f.userJSONByLogin(run.Actor),
		"jobs_url": url + "/jobs", "logs_url": url + "/logs",
		"check_suite_url": fmt.Sprintf("%s/check-suites/%d", f.repoAPI(r), run.ID+1),
		"artifacts_url":   url + "/artifacts", "cancel_url": url + "/cancel", "rerun_url": url + "/rerun",
		"previous_attempt_url": run.previousAttemptURL(url),
		"workflow_url":         fmt.Sprintf("%s/actions/workflows/%d", f.repoAPI(r), run.WorkflowID),
		"head_commit":          head, "repository": repoObj, "head_repository": repoObj,
	}
	if webhook {
		o["referenced_workflows"] = []obj{}
	}
	return o
}
