package gitops

import (
	"fmt"
	"strings"

	"github.com/rdsbot/rdsbot/pkg/config"
	"github.com/rdsbot/rdsbot/pkg/schema"
)

// Marker starts every pull request body the planner writes; the bot finds
// its pull requests and their request by it.
const Marker = "<!-- rdsbot:plan"

// MarkerLine is the hidden first line of a plan's body.
func MarkerLine(p *Plan) string {
	return fmt.Sprintf("%s kind=%s env=%s db=%s request=%s -->", Marker, p.Kind, p.Environment, p.Database, p.RequestID)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// body renders the pull request description. It holds no secret: only the
// path where the credentials will be.
func (pl *Planner) body(p *Plan) string {
	cfg := pl.Config
	r := p.Request
	var b strings.Builder
	b.WriteString(MarkerLine(p) + "\n")
	title := "RDS database request"
	if p.RequestID != "" {
		title += " " + p.RequestID
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	b.WriteString("| Field | Value |\n| --- | --- |\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Database", code(r.DatabaseName))
	row("Username", code(r.Username))
	row("Environment", r.Environment)
	row("Owner", r.Owner)
	if r.Requester != "" {
		row("Requested by", "@"+r.Requester)
	}
	row("Domain", r.Domain)
	row("Risk", r.Risk)
	row("Size tier", r.Size)
	row("Storage", fmt.Sprintf("%d GB, autoscaling to %d GB", r.StorageGB, r.MaxStorageGB))
	row("Backup retention", fmt.Sprintf("%d days", r.BackupRetentionDays))
	row("Multi-AZ", yesNo(r.MultiAZ))
	row("Performance Insights", yesNo(r.PerformanceInsights))
	if r.InitialSchema != "" {
		row("Initial schema", r.InitialSchema)
	}

	b.WriteString("\n### Derived\n\n| | |\n| --- | --- |\n")
	row("Instance class of the tier", code(r.InstanceClass))
	row("Secret path", code(r.SecretPath(cfg.Secrets.Prefix)))
	row("Catalog id", code(r.CatalogID()))
	mode := "standalone (`" + config.Expand(cfg.Paths.StandaloneTfvars, p.Environment) + "`)"
	if p.Coupled {
		mode += " and coupled (`" + config.Expand(cfg.Paths.CoupledTfvars, p.Environment) + "`), kept identical"
	}
	if cfg.ContractMode() {
		mode = "request contract `" + cfg.ContractPath(p.Environment, p.RequestID) + "`; generated `" +
			cfg.GeneratedTfvarsPath(p.Environment, p.RequestID) + "` (read by the standalone root) and an ExternalSecret; the tfvars are not edited"
	}
	row("Terraform", mode)
	b.WriteString("\nThe database lives on the environment's shared instance: the size tier, storage, backup and Multi-AZ choices are recorded with the request and in the catalog; the instance's own settings stay in the root's tfvars.\n")

	writeChanges(&b, p)
	writeApprovals(&b, cfg, p.Approval)

	b.WriteString("\n### What happens next\n\n")
	fmt.Fprintf(&b, "1. rdsbot keeps the `%s` check up to date as reviews and labels arrive; it passes once the approvals above are complete.\n", cfg.Approvals.CheckName)
	fmt.Fprintf(&b, "2. On merge to `%s`, rdsbot runs `terraform apply` in `%s` from the merge commit; it creates the secret `%s`.\n",
		p.Base, strings.TrimSuffix(config.Expand(cfg.Paths.StandaloneTfvars, p.Environment), "/terraform.tfvars"), r.SecretPath(cfg.Secrets.Prefix))
	fmt.Fprintf(&b, "3. rdsbot then creates the role `%s` and the database `%s`, grants the role ownership, and marks the catalog entry active.\n", r.Username, r.DatabaseName)
	b.WriteString("4. Applications read the credentials from the secret store; they are never written to this pull request, the issue or the logs.\n")
	writeWarnings(&b, p.Warnings)
	return b.String()
}

func writeChanges(b *strings.Builder, p *Plan) {
	b.WriteString("\n### Changes\n\n")
	if len(p.Changes) == 0 {
		b.WriteString("None: the repository already holds this request.\n")
		return
	}
	for _, c := range p.Changes {
		verb := "edited"
		if c.Old == nil {
			verb = "created"
		}
		fmt.Fprintf(b, "- `%s` (%s)\n", c.Path, verb)
	}
}

func writeApprovals(b *strings.Builder, cfg *config.Config, a schema.Approval) {
	b.WriteString("\n### Approvals needed\n\n")
	if a.SelfServe() {
		fmt.Fprintf(b, "Self-serve (rule `%s`): no reviewer group is required; the `%s` check passes on its own.\n", a.Rule, cfg.Approvals.CheckName)
		return
	}
	fmt.Fprintf(b, "Tier `%s` (rule `%s`):\n\n", a.Tier, a.Rule)
	for _, g := range a.Reviewers {
		fmt.Fprintf(b, "- [ ] an approving review of the current commit by a member of team `%s` (group %s)\n", team(cfg, g), g)
	}
	for _, l := range a.Labels {
		fmt.Fprintf(b, "- [ ] label `%s` added by a member of team `%s`: %s\n", l.Label, team(cfg, l.Group), l.Reason)
	}
	b.WriteString("\nApprovals from the requester or from bots do not count; a label added by someone outside the team is removed.\n")
}

func writeWarnings(b *strings.Builder, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	b.WriteString("\n### Warnings\n\n")
	for _, w := range warnings {
		fmt.Fprintf(b, "- %s\n", w)
	}
}

func team(cfg *config.Config, group string) string {
	if t, ok := cfg.Teams[group]; ok && t != "" {
		return t
	}
	return group
}

func code(s string) string { return "`" + s + "`" }
