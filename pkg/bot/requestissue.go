package bot

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/md"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// A request that arrives by dispatch gets an issue the bot opens itself, so
// every request has an id (RDS-<issue number>), a place for its status and a
// body its requester can edit to fix a problem. The body is an issue-form
// body (### Label sections), read back by the same parser as form requests.
// Who asked and through what is recorded in the ledger, never read back
// from the body.

// Origin is where a bot-opened request came from, for the text of its issue.
type Origin struct {
	Source    contract.Source
	Requester string // the `user` input: who asked (as the dispatcher claims)
	Sender    string // the account that sent the dispatch, as GitHub says
}

// loginPattern is what GitHub allows in a login (bots end in [bot]).
var loginPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(\[bot\])?$`)

func validLogin(s string) bool { return loginPattern.MatchString(s) }

// loginText shows a login: a mention when it is a login, inert text else.
func loginText(s string) string {
	if validLogin(s) {
		return "@" + s
	}
	if s == "" {
		return "someone"
	}
	return md.Code(s)
}

// plainValue is an answer that reads back from a form section exactly as
// written and cannot be markup: anything else is written as a code span,
// which reads back as itself (and fails validation, as the raw value would).
var plainValue = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._:/+-]*$`)

// IssueFromRaw renders a dispatched request as the title and body of the
// request issue. Every form field the dispatch set is written as a section;
// fields it left out are written as `_No response_` so a person can fill them.
// Inputs the request does not know (parse problems) are listed, so nothing a
// sender meant is silently lost. No value can add a section, a mention, a
// link or markup: the dispatch's text is the dispatcher's, not the bot's.
func IssueFromRaw(s *schema.RequestSchema, raw contract.Raw, parseProblems contract.Problems, o Origin) (title, body string) {
	db, env := raw.Values["databaseName"].Text, raw.Values["environment"].Text
	title = md.Title("RDS request: " + orDash(db) + " (" + orDash(env) + ")")
	var b strings.Builder
	switch o.Source {
	case contract.SourceDispatch:
		b.WriteString("Requested through the `create-rds-database` workflow (Backstage)")
	case contract.SourceRepositoryDispatch:
		b.WriteString("Requested through a `repository_dispatch` (`rds-request`)")
	default:
		b.WriteString("Requested")
	}
	if o.Requester != "" {
		fmt.Fprintf(&b, " for %s", loginText(o.Requester))
	}
	if o.Sender != "" && o.Sender != o.Requester {
		fmt.Fprintf(&b, ", sent by %s", loginText(o.Sender))
	}
	b.WriteString(". The requester can edit the answers below to change the request; rdsbot re-validates on every edit.\n\n")
	if len(parseProblems) > 0 {
		b.WriteString("Not used from the dispatch:\n\n")
		for _, p := range parseProblems {
			fmt.Fprintf(&b, "- %s\n", md.Text(p.String()))
		}
		b.WriteString("\n")
	}
	for _, f := range s.FormFields() {
		v := contract.NoResponse
		if rv, ok := raw.Values[f.Name]; ok && rv.Text != "" {
			v = rv.Text
			if !plainValue.MatchString(v) {
				v = md.Code(v)
			}
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", f.Label, v)
	}
	return title, md.Cap(b.String(), md.MaxBody, "The dispatch carried more than an issue can hold; the rest was left out.")
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// RawFromText reads a request's accepted text (issue-form sections) with
// the requester and source the ledger recorded.
func RawFromText(s *schema.RequestSchema, body, requester string, src contract.Source) (contract.Raw, contract.Problems) {
	raw, probs := contract.FromIssueForm(s, body)
	if src != "" {
		raw.Source = src
	}
	if requester == "" {
		delete(raw.Values, "requester")
		return raw, probs
	}
	v := contract.RawValue{Text: requester, Kind: contract.KindString, Origin: "the issue author"}
	if src != contract.SourceIssue && src != "" {
		v = contract.RawValue{Text: requester, Kind: contract.KindText, Origin: "the dispatch's user input"}
	}
	raw.Set("requester", v)
	return raw, probs
}
