package githubfake

import (
	"crypto/rsa"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Seeding: accounts, teams, repositories, Apps and installations. Seeding
// emits no webhooks.

// AddUser registers a user account (idempotent) and returns it.
func (f *Fake) AddUser(login string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.user(login)
}

// AddBot registers a bot account such as "dependabot[bot]" (idempotent).
func (f *Fake) AddBot(login string) User {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.user(login)
	u.Type = "Bot"
	return *u
}

// AddOrg registers an organisation with members (idempotent).
func (f *Fake) AddOrg(login string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(login)]
	if o == nil {
		acct := f.user(login)
		acct.Type = "Organization"
		o = &org{account: acct, members: map[string]bool{}, owners: map[string]bool{}, invited: map[string]string{}, teams: map[string]*team{}}
		f.orgs[strings.ToLower(login)] = o
	}
	for _, m := range members {
		f.user(m)
		f.joinOrg(o, m)
	}
}

// joinOrg makes login a member; invitations they had are settled: their
// pending team memberships become active. Callers hold f.mu.
func (f *Fake) joinOrg(o *org, login string) {
	key := strings.ToLower(login)
	o.members[key] = true
	delete(o.invited, key)
	for _, t := range o.teams {
		if role, ok := t.pending[key]; ok {
			delete(t.pending, key)
			t.members[key] = role
		}
	}
}

// AddTeam creates a team (slug) in an organisation, creating the
// organisation if needed, with members (role "member"); members also
// become organisation members.
func (f *Fake) AddTeam(orgLogin, slug string, members ...string) {
	f.AddOrg(orgLogin)
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(orgLogin)]
	t := o.teams[strings.ToLower(slug)]
	if t == nil {
		t = &team{ID: f.id(), Slug: strings.ToLower(slug), Name: slug, Org: o.account.Login,
			members: map[string]string{}, pending: map[string]string{}, created: f.now()}
		o.teams[t.Slug] = t
	}
	for _, m := range members {
		f.user(m)
		f.joinOrg(o, m)
		t.members[strings.ToLower(m)] = "member"
	}
}

// SetTeamMember adds a member with a role ("member" or "maintainer"), or
// removes them when role is "".
func (f *Fake) SetTeamMember(orgLogin, slug, login, role string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.orgs[strings.ToLower(orgLogin)]
	if o == nil || o.teams[strings.ToLower(slug)] == nil {
		return fmt.Errorf("githubfake: no team %s/%s", orgLogin, slug)
	}
	t := o.teams[strings.ToLower(slug)]
	if role == "" {
		delete(t.members, strings.ToLower(login))
		delete(t.pending, strings.ToLower(login))
		return nil
	}
	f.user(login)
	f.joinOrg(o, login)
	t.members[strings.ToLower(login)] = role
	return nil
}

// AddRepo creates "owner/name" with files (path -> content) committed on
// "main" by the owner and returns the commit id. The owner account is
// created as a user if it does not exist yet.
func (f *Fake) AddRepo(fullName string, files map[string]string) (string, error) {
	m := map[string]fileEntry{}
	f.mu.Lock()
	defer f.mu.Unlock()
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("githubfake: repository name %q must be owner/name", fullName)
	}
	if f.repos[strings.ToLower(fullName)] != nil {
		return "", fmt.Errorf("githubfake: repository %s exists", fullName)
	}
	r := newRepo(f.id(), f.user(owner), name, f.now())
	for p, content := range files {
		m[strings.Trim(p, "/")] = fileEntry{Mode: modeFile, SHA: r.objects.putBlob([]byte(content))}
	}
	return f.seedRepo(r, m)
}

// AddRepoFromDir creates "owner/name" from the files under dir (skipping
// .git), keeping the executable bit, and returns the initial commit id.
func (f *Fake) AddRepoFromDir(fullName, dir string) (string, error) {
	files := map[string]string{}
	modes := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		files[rel] = string(data)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			modes[rel] = modeExec
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("githubfake: read %s: %w", dir, err)
	}
	sha, err := f.AddRepo(fullName, files)
	if err != nil || len(modes) == 0 {
		return sha, err
	}
	// Re-commit with executable modes: rebuild the tree with them.
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[strings.ToLower(fullName)]
	flat := f.commitFiles(r, sha)
	for p, mode := range modes {
		e := flat[p]
		e.Mode = mode
		flat[p] = e
	}
	delete(r.refs, "refs/heads/"+r.defaultBranch)
	return f.seedRepo(r, flat)
}

// seedRepo writes the initial commit and registers the repository. Callers hold f.mu.
func (f *Fake) seedRepo(r *repo, files map[string]fileEntry) (string, error) {
	tree, err := r.objects.buildTree(files)
	if err != nil {
		return "", fmt.Errorf("githubfake: %w", err)
	}
	sig := Signature{Name: r.owner.Login, Email: noreplyEmail(r.owner), Date: f.now()}
	sha := r.objects.putCommit(commitData{Tree: tree, Author: sig, Committer: sig, Message: "Initial commit\n"})
	r.refs["refs/heads/"+r.defaultBranch] = sha
	f.repos[strings.ToLower(r.fullName())] = r
	f.scanWorkflows(r)
	return sha, nil
}

// SetRequiredChecks protects branch so that merging requires these check
// run names or status contexts, from any source, to have passed on the head
// commit (ProtectBranch pins checks to an App and sets the rest).
func (f *Fake) SetRequiredChecks(repoName, branch string, contexts ...string) error {
	p := Protection{}
	for _, c := range contexts {
		p.RequiredChecks = append(p.RequiredChecks, RequiredCheck{Context: c})
	}
	return f.ProtectBranch(repoName, branch, p)
}

// CreateLabel adds a repository label (idempotent).
func (f *Fake) CreateLabel(repoName, name, color, description string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repoByName(repoName)
	if err != nil {
		return err
	}
	l := f.ensureLabel(r, name)
	if color != "" {
		l.Color = strings.TrimPrefix(color, "#")
	}
	l.Description = description
	return nil
}

func (f *Fake) repoByName(fullName string) (*repo, error) {
	r := f.repos[strings.ToLower(fullName)]
	if r == nil {
		return nil, fmt.Errorf("githubfake: no repository %s", fullName)
	}
	return r, nil
}

// AppCredentials are what a GitHub App's owner downloads: the App id and its
// private key (PEM for ghinstallation).
type AppCredentials struct {
	ID         int64
	Slug       string
	PrivateKey *rsa.PrivateKey
	PEM        []byte
}

// NewApp registers a GitHub App with a fresh RSA key, owned by owner. Its
// bot account is "<slug>[bot]".
func (f *Fake) NewApp(slug, owner string) (AppCredentials, error) {
	key, pemBytes, err := GenerateKey()
	if err != nil {
		return AppCredentials{}, err
	}
	id, err := f.RegisterApp(0, slug, owner, &key.PublicKey)
	if err != nil {
		return AppCredentials{}, err
	}
	return AppCredentials{ID: id, Slug: slug, PrivateKey: key, PEM: pemBytes}, nil
}

// RegisterApp registers an App whose JWTs verify with pub and returns its
// id: id when non-zero (for a configuration that names a fixed App id),
// otherwise the next free id.
func (f *Fake) RegisterApp(id int64, slug, owner string, pub *rsa.PublicKey) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.apps {
		if a.Slug == slug || a.ID == id {
			return 0, fmt.Errorf("githubfake: app %s (id %d) exists", slug, a.ID)
		}
	}
	if id == 0 {
		id = f.id()
	}
	bot := f.user(slug + "[bot]")
	bot.Type = "Bot"
	a := &App{ID: id, Slug: slug, Name: slug, Owner: owner, PublicKey: pub, bot: bot, created: f.now()}
	f.user(owner)
	f.apps[a.ID] = a
	return a.ID, nil
}

// Install installs an App on an account: on all its repositories, or only
// on the named ones ("owner/name" or "name"). It returns the installation id.
func (f *Fake) Install(appID int64, account string, repos ...string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.apps[appID]
	if a == nil {
		return 0, fmt.Errorf("githubfake: no app %d", appID)
	}
	in := &installation{ID: f.id(), app: a, account: f.user(account), created: f.now()}
	if len(repos) > 0 {
		in.repos = map[string]bool{}
		for _, r := range repos {
			if !strings.Contains(r, "/") {
				r = account + "/" + r
			}
			in.repos[strings.ToLower(r)] = true
		}
	}
	f.installs[in.ID] = in
	return in.ID, nil
}

// InstallationToken mints an installation token without a JWT round trip.
func (f *Fake) InstallationToken(installationID int64) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.installs[installationID]
	if in == nil {
		return "", fmt.Errorf("githubfake: no installation %d", installationID)
	}
	return f.issueInstallationToken(in).value, nil
}

// UserToken returns a personal token that acts as login over HTTP (never expires).
func (f *Fake) UserToken(login string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &token{value: randomToken("ghp_"), user: f.user(login)}
	f.tokens[t.value] = t
	return t.value
}

// AddWebhookURL registers another URL that receives every event.
func (f *Fake) AddWebhookURL(url string) { f.hooks.addURL(url) }

// SetWebhookSecret changes the secret that signs deliveries queued from now on.
func (f *Fake) SetWebhookSecret(secret string) {
	f.hooks.mu.Lock()
	defer f.hooks.mu.Unlock()
	f.hooks.secret = secret
}
