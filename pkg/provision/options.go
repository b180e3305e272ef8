package provision

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rdsbot/rdsbot/pkg/provision/audit"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// Options are the inputs of Run and Decommission.
type Options struct {
	// Environment names the secrets (<prefix>/<env>/...) and the approval
	// rule: every environment but dev needs Approved.
	Environment string
	// Entries to provision (Run) or decommission (Decommission).
	Entries []Entry

	// Secrets holds the master secret and the applications' secrets.
	Secrets secrets.Store
	// SecretPrefix defaults to "goldenpath" (config.Secrets.Prefix).
	SecretPrefix string
	// MasterSecret defaults to <prefix>/<env>/rds/master.
	MasterSecret string
	// Admin overrides the master secret's host, port and database and sets
	// TLS, timeouts and retries.
	Admin Admin

	// Approved must be true outside dev. The CLI sets it from
	// ALLOW_DB_PROVISION=true; the bot from the approval it verified.
	Approved bool
	// DryRun connects to nothing and reads no secret: the report lists the
	// statements a server without any of the entries would receive, with
	// passwords redacted.
	DryRun bool
	// ContinueOnError goes on with the other databases after one fails (or
	// is blocked). By default the first failure stops the run: databases
	// already started finish, no new one starts, and when the up-front
	// checks find a blocker nothing at all is changed.
	ContinueOnError bool
	// GenerateMissing creates an application secret that does not exist
	// (a random 32-character password, with engine, host, port, username and
	// dbname) instead of failing.
	GenerateMissing bool
	// VerifyGrants reads every database's privileges even when its mark
	// says they were applied, and repairs drift (one connection per
	// database; a normal rerun needs none).
	VerifyGrants bool
	// Adopt names existing roles without the rdsbot mark that this run may
	// take over (their password is reset to the secret's). Any other
	// unmarked role blocks.
	Adopt []string
	// Parallel is how many databases are provisioned at once (default 4).
	Parallel int

	// BuildID and RunID go into every audit row (default "manual", "local").
	BuildID, RunID string
	// Audit receives the rows as each database finishes (may be nil).
	Audit audit.Sink
	// Logger for progress and statements (passwords never reach it).
	Logger *slog.Logger
	// Progress is called as each entry finishes, one call at a time.
	Progress func(EntryResult)
	// Now is the clock (default time.Now).
	Now func() time.Time

	hooks *hooks // tests only
}

// hooks let tests act between steps (kill the connection, race a change).
type hooks struct {
	afterStep func(step string, database string)
}

// Outcome summarises what happened to an entry.
type Outcome string

// Outcomes.
const (
	Created        Outcome = "created"        // role or database created
	Updated        Outcome = "updated"        // something changed
	Unchanged      Outcome = "unchanged"      // nothing to do
	Decommissioned Outcome = "decommissioned" // role disabled
	Planned        Outcome = "planned"        // dry run
	Blocked        Outcome = "blocked"        // refused; nothing changed
	Failed         Outcome = "failed"         // an error part-way
	Skipped        Outcome = "skipped"        // not run (fail-fast after another failure)
)

// EntryResult is what happened to one entry.
type EntryResult struct {
	Key      string   `json:"key"`
	Database string   `json:"database"`
	Username string   `json:"username"`
	Access   Access   `json:"access"`
	Outcome  Outcome  `json:"outcome"`
	Changes  []string `json:"changes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Statement is one statement sent (or, in a dry run, to send), with
// passwords redacted.
type Statement struct {
	Database string `json:"database"` // the database the session was connected to
	SQL      string `json:"sql"`
}

// Report is the outcome of a run. Run returns one even when it fails.
type Report struct {
	Environment   string        `json:"environment"`
	BuildID       string        `json:"build_id"`
	RunID         string        `json:"run_id"`
	DryRun        bool          `json:"dry_run"`
	Target        string        `json:"target,omitempty"` // user@host:port/db
	ServerVersion int           `json:"server_version,omitempty"`
	Results       []EntryResult `json:"results"`
	Statements    []Statement   `json:"statements"`
	// DDL counts the catalogue-changing statements executed (0 on a
	// rerun with nothing to do).
	DDL      int           `json:"ddl"`
	Rows     []audit.Row   `json:"audit"`
	Duration time.Duration `json:"duration_ns"`
}

// Counts tallies outcomes.
func (r *Report) Counts() map[Outcome]int {
	out := map[Outcome]int{}
	for _, e := range r.Results {
		out[e.Outcome]++
	}
	return out
}

// Errors.
var (
	// ErrApprovalRequired: a non-dev environment without approval.
	ErrApprovalRequired = errors.New("approval required")
	// ErrBlocked: an entry would touch something rdsbot does not manage.
	ErrBlocked = errors.New("blocked")
)

// RunError is returned when entries failed or were blocked.
type RunError struct {
	Errors []error // one per failed or blocked entry
}

func (e *RunError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%d entr%s failed:\n  %s", len(e.Errors), plural(len(e.Errors), "y", "ies"), strings.Join(msgs, "\n  "))
}

// Unwrap lets errors.Is find ErrBlocked.
func (e *RunError) Unwrap() []error { return e.Errors }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (o *Options) defaults() {
	if o.SecretPrefix == "" {
		o.SecretPrefix = "goldenpath"
	}
	if o.MasterSecret == "" {
		o.MasterSecret = MasterSecretPath(o.SecretPrefix, o.Environment)
	}
	if o.BuildID == "" {
		o.BuildID = "manual"
	}
	if o.RunID == "" {
		o.RunID = "local"
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// checkApproval: dev needs nothing; every other environment needs Approved.
func (o *Options) checkApproval(what string) error {
	if o.DryRun || o.Environment == "dev" || o.Approved {
		return nil
	}
	return fmt.Errorf("%w: %s in %s changes a shared database and needs approval (ALLOW_DB_PROVISION=true from the command line; the bot passes the approval it verified)", ErrApprovalRequired, what, o.Environment)
}
