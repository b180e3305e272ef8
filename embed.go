// Package rdsbot embeds this repository's example GitOps content (schemas,
// Terraform roots, catalog, generated forms and rdsbot.yaml), so the sandbox
// and the CLI's defaults work from the binary alone.
package rdsbot

import (
	"embed"
	"io/fs"
)

//go:embed rdsbot.yaml schemas envs rds-catalog backstage .github/ISSUE_TEMPLATE .github/workflows
var content embed.FS

// Example returns the example repository content, rooted at the repository top.
func Example() fs.FS { return content }
