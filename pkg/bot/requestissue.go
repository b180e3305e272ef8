package bot

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// A request that arrives by dispatch gets an issue the bot opens itself, so
// every request has an id (RDS-<issue number>), a place for its status and a
// body a person can edit to fix a problem. The body is an issue-form body
// (### Label sections), read back by the same parser as form requests, plus a
// hidden origin line recording who asked and through what.

// originPattern reads the hidden origin line of a bot-opened request issue.
var originPattern = regexp.MustCompile(`<!-- rdsbot:origin source=(\S+) delivery=(\S+) requester=(\S*) sender=(\S*) -->`)

// Origin is where a bot-opened request came from.
type Origin struct {
	Source    contract.Source
	Delivery  string // the webhook delivery that carried it: makes opening the issue idempotent
	Requester string // the `user` input: who asked (as the dispatcher claims)
	Sender    string // the account that sent the dispatch (Backstage's identity)
}

func (o Origin) line() string {
	return fmt.Sprintf("<!-- rdsbot:origin source=%s delivery=%s requester=%s sender=%s -->", o.Source, o.Delivery, o.Requester, o.Sender)
}

// ParseOrigin reads the origin line of an issue body.
func ParseOrigin(body string) (Origin, bool) {
	m := originPattern.FindStringSubmatch(body)
	if m == nil {
		return Origin{}, false
	}
	return Origin{Source: contract.Source(m[1]), Delivery: m[2], Requester: m[3], Sender: m[4]}, true
}

// DeliveryMarker is the text that identifies the issue opened for a delivery.
func DeliveryMarker(delivery string) string { return "delivery=" + delivery + " " }

// IssueFromRaw renders a dispatched request as the title and body of the
// request issue. Every form field the dispatch set is written as a section;
// fields it left out are written as `_No response_` so a person can fill them.
// Inputs the request does not know (parse problems) are listed, so nothing a
// sender meant is silently lost.
func IssueFromRaw(s *schema.RequestSchema, raw contract.Raw, parseProblems contract.Problems, o Origin) (title, body string) {
	db, env := raw.Values["databaseName"].Text, raw.Values["environment"].Text
	title = "RDS request: " + orDash(db) + " (" + orDash(env) + ")"
	var b strings.Builder
	b.WriteString(o.line() + "\n")
	switch o.Source {
	case contract.SourceDispatch:
		b.WriteString("Requested through the `create-rds-database` workflow (Backstage)")
	case contract.SourceRepositoryDispatch:
		b.WriteString("Requested through a `repository_dispatch` (`rds-request`)")
	default:
		b.WriteString("Requested")
	}
	if o.Requester != "" {
		fmt.Fprintf(&b, " for @%s", o.Requester)
	}
	if o.Sender != "" && o.Sender != o.Requester {
		fmt.Fprintf(&b, ", sent by @%s", o.Sender)
	}
	b.WriteString(". Edit the answers below to change the request; rdsbot re-validates on every edit.\n\n")
	if len(parseProblems) > 0 {
		b.WriteString("Not used from the dispatch:\n\n")
		for _, p := range parseProblems {
			fmt.Fprintf(&b, "- %s\n", p)
		}
		b.WriteString("\n")
	}
	for _, f := range s.FormFields() {
		v := contract.NoResponse
		if rv, ok := raw.Values[f.Name]; ok && rv.Text != "" {
			v = rv.Text
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", f.Label, v)
	}
	return title, b.String()
}

func orDash(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// RawFromIssue reads a request issue back: the form sections, and the
// requester — the issue author for a form request, the recorded requester
// for an issue the bot opened from a dispatch.
func RawFromIssue(s *schema.RequestSchema, body, author, botLogin string) (contract.Raw, contract.Problems) {
	raw, probs := contract.FromIssueForm(s, body)
	origin, hasOrigin := ParseOrigin(body)
	if hasOrigin && author == botLogin {
		raw.Source = origin.Source
		if origin.Requester != "" {
			raw.Set("requester", contract.RawValue{Text: origin.Requester, Kind: contract.KindText, Origin: "the dispatch's user input"})
		} else {
			delete(raw.Values, "requester")
		}
		return raw, probs
	}
	raw.Set("requester", contract.RawValue{Text: author, Kind: contract.KindString, Origin: "the issue author"})
	return raw, probs
}
