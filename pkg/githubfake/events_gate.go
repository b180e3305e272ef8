package githubfake

import (
	"encoding/json"
	"sort"
	"strings"
)

// emitOrg sends an organisation event (membership, organization, team): no
// repository; the installation on the organisation receives it. Callers hold f.mu.
func (f *Fake) emitOrg(o *org, event, action string, actor *User, body obj) {
	p := obj{"action": action}
	for k, v := range body {
		p[k] = v
	}
	p["sender"] = f.userJSON(actor)
	p["organization"] = f.orgJSON(o.account)
	var instID, appID int64
	if in := f.orgInstallation(o); in != nil {
		instID, appID = in.ID, in.app.ID
		p["installation"] = obj{"id": in.ID, "node_id": nodeID("MDIz", in.ID)}
	}
	data, err := json.Marshal(p)
	if err != nil {
		f.log.Error("githubfake: encode event", "event", event, "err", err)
		return
	}
	f.hooks.enqueue(event, action, data, instID, 0, appID)
}

// emitStatus sends status for a new commit status.
func (f *Fake) emitStatus(r *repo, s *Status, actor *User) {
	commit := f.repoCommitJSON(r, s.SHA, false)
	if c, ok := commit["commit"].(obj); ok {
		c["verification"] = obj{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil}
	}
	branches := []obj{}
	var names []string
	for ref, sha := range r.refs {
		if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && (sha == s.SHA || r.objects.isAncestor(s.SHA, sha)) {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	for _, b := range names[:min(len(names), 10)] {
		sha := r.branchSHA(b)
		branches = append(branches, obj{"name": b, "commit": obj{"sha": sha, "url": f.repoAPI(r) + "/commits/" + sha},
			"protected": r.protection[b] != nil})
	}
	f.emit(r, "status", "", actor, obj{
		"id": s.ID, "sha": s.SHA, "name": r.fullName(), "avatar_url": nil, "target_url": nullable(s.TargetURL),
		"context": s.Context, "description": nullable(s.Description), "state": s.State, "commit": commit,
		"branches": branches, "created_at": ts(s.CreatedAt), "updated_at": ts(s.UpdatedAt),
	})
}
