package githubfake

import (
	"net/http"
	"sort"
	"strings"
)

// Pull requests, their files, merges and reviews.

func (f *Fake) pullByParam(c *call) (*repo, *PullRequest, bool) {
	r, ok := c.repo()
	if !ok {
		return nil, nil, false
	}
	n, ok := c.number("pull_number")
	if !ok {
		return nil, nil, false
	}
	pr := r.pulls[int(n)]
	if pr == nil {
		c.notFound()
		return nil, nil, false
	}
	return r, pr, true
}

func (f *Fake) createPull(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	var req struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if !c.decode(&req) {
		return
	}
	pr, err := f.openPull(r, c.p.user, req.Title, req.Body, req.Head, req.Base, req.Draft)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusCreated, f.pullJSON(r, pr, false))
}

func (f *Fake) getPull(c *call) {
	if r, pr, ok := f.pullByParam(c); ok {
		c.json(http.StatusOK, f.pullJSON(r, pr, false))
	}
}

// listPulls answers GET pulls with state, head (owner:branch), base,
// sort and direction.
func (f *Fake) listPulls(c *call) {
	r, ok := c.repo()
	if !ok {
		return
	}
	state := c.query("state")
	if state == "" {
		state = "open"
	}
	head := c.query("head")
	if owner, branch, found := strings.Cut(head, ":"); found {
		if !strings.EqualFold(owner, r.owner.Login) {
			c.json(http.StatusOK, []obj{})
			return
		}
		head = branch
	}
	var list []*PullRequest
	for _, pr := range r.pulls {
		if (state == "all" || pr.issue.State == state) && (head == "" || pr.Head == head) &&
			(c.query("base") == "" || pr.Base == c.query("base")) {
			list = append(list, pr)
		}
	}
	asc := c.query("direction") == "asc"
	sort.Slice(list, func(i, j int) bool { return (list[i].Number < list[j].Number) == asc })
	out := []obj{}
	for _, pr := range paginate(c, list) {
		out = append(out, f.pullSimpleJSON(r, pr))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) updatePull(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	var req struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.updatePullOp(r, pr, c.p.user, PullEdit{Title: req.Title, Body: req.Body, State: req.State, Base: req.Base}); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.pullJSON(r, pr, false))
}

func (f *Fake) listPullFiles(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	head, _ := f.pullSHAs(r, pr)
	out := []obj{}
	for _, fc := range paginate(c, f.pullState(r, pr).files) {
		out = append(out, f.fileJSON(r, head, fc))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) listPullCommits(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	head, base := f.pullSHAs(r, pr)
	ids := commitsBetween(r.objects, r.objects.mergeBase(base, head), head)
	ids = ids[:min(len(ids), maxPullCommits)] // GitHub lists at most the first 250
	out := []obj{}
	for _, id := range paginate(c, ids) {
		out = append(out, f.repoCommitJSON(r, id, false))
	}
	c.json(http.StatusOK, out)
}

// maxPullCommits is how many commits GitHub lists for a pull request.
const maxPullCommits = 250

func (f *Fake) isPullMerged(c *call) {
	if _, pr, ok := f.pullByParam(c); ok {
		if pr.Merged {
			c.noContent()
			return
		}
		c.notFound()
	}
}

func (f *Fake) mergePullHandler(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	var req struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if !c.decode(&req) {
		return
	}
	sha, err := f.mergePull(r, pr, c.p.user, req.MergeMethod, req.SHA, req.CommitTitle, req.CommitMessage)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, obj{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

func (f *Fake) listReviews(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	out := []obj{}
	for _, rv := range paginate(c, pr.Reviews) {
		if rv.State == "PENDING" && !strings.EqualFold(rv.User, c.p.user.Login) {
			continue
		}
		out = append(out, f.reviewJSON(r, rv, false))
	}
	c.json(http.StatusOK, out)
}

func (f *Fake) createReview(c *call) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return
	}
	var req struct {
		CommitID string `json:"commit_id"`
		Body     string `json:"body"`
		Event    string `json:"event"`
	}
	if !c.decode(&req) {
		return
	}
	rv, err := f.submitReview(r, pr, c.p.user, req.Event, req.Body, req.CommitID)
	if err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.reviewJSON(r, rv, false))
}

func (f *Fake) reviewByParam(c *call) (*repo, *PullRequest, *Review, bool) {
	r, pr, ok := f.pullByParam(c)
	if !ok {
		return nil, nil, nil, false
	}
	id, ok := c.number("review_id")
	if !ok {
		return nil, nil, nil, false
	}
	for _, rv := range pr.Reviews {
		if rv.ID == id {
			return r, pr, rv, true
		}
	}
	c.notFound()
	return nil, nil, nil, false
}

func (f *Fake) getReview(c *call) {
	if r, _, rv, ok := f.reviewByParam(c); ok {
		c.json(http.StatusOK, f.reviewJSON(r, rv, false))
	}
}

func (f *Fake) dismissReview(c *call) {
	r, pr, rv, ok := f.reviewByParam(c)
	if !ok {
		return
	}
	var req struct {
		Message string `json:"message"`
	}
	if !c.decode(&req) {
		return
	}
	if err := f.dismissReviewOp(r, pr, rv, c.p.user, req.Message); err != nil {
		c.answer(err)
		return
	}
	c.json(http.StatusOK, f.reviewJSON(r, rv, false))
}
