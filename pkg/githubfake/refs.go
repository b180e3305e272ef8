package githubfake

import "strings"

// setRef moves (or creates, or with sha "" deletes) a ref as actor and emits
// what GitHub would: push, and pull_request synchronize for open pull
// requests whose head is that branch. Callers hold f.mu.
func (f *Fake) setRef(r *repo, ref, sha string, actor *User) {
	before := r.refs[ref]
	if before == sha {
		return
	}
	if sha == "" {
		delete(r.refs, ref)
	} else {
		r.refs[ref] = sha
	}
	now := f.now()
	r.pushed = now
	forced := before != "" && sha != "" && !r.objects.isAncestor(before, sha)
	f.emitPush(r, ref, before, sha, forced, actor)
	branch, isBranch := strings.CutPrefix(ref, "refs/heads/")
	if !isBranch {
		return
	}
	f.baseMoved(r, branch, actor)
	for _, pr := range r.pulls {
		if pr.issue.State != "open" || pr.Head != branch {
			continue
		}
		if sha == "" {
			// GitHub closes a pull request whose head branch is deleted.
			pr.HeadSHA, pr.BaseSHA = before, r.branchSHA(pr.Base)
			pr.issue.State, pr.issue.ClosedAt, pr.issue.ClosedBy, pr.issue.UpdatedAt = "closed", now, actor.Login, now
			pr.issue.Events = append(pr.issue.Events,
				&IssueEvent{ID: f.id(), Event: "head_ref_deleted", Actor: actor.Login, CreatedAt: now},
				&IssueEvent{ID: f.id(), Event: "closed", Actor: actor.Login, CreatedAt: now})
			f.leaveQueue(r, pr, actor, dequeueUnknown)
			f.emitPull(r, pr, "closed", actor, nil)
			continue
		}
		pr.HeadSHA = sha
		pr.issue.UpdatedAt = now
		if forced {
			pr.issue.Events = append(pr.issue.Events, &IssueEvent{ID: f.id(), Event: "head_ref_force_pushed", Actor: actor.Login, CommitID: sha, CreatedAt: now})
		}
		f.leaveQueue(r, pr, actor, dequeueUnknown)
		f.dismissStale(r, pr, sha, actor)
		f.emitPull(r, pr, "synchronize", actor, obj{"before": before, "after": sha})
	}
}
