// Package rdsbot embeds this repository's example GitOps content (schemas,
// Terraform roots, catalog, generated forms and rdsbot.yaml), so the sandbox
// and the CLI's defaults work from the binary alone.
package rdsbot

import (
	"embed"
	"io/fs"
	"path"
	"testing/fstest"
)

//go:embed rdsbot.yaml schemas envs rds-catalog backstage .github/ISSUE_TEMPLATE .github/workflows
var content embed.FS

//go:embed examples/contract
var contractOverlay embed.FS

// Example returns the example repository content, rooted at the repository top.
func Example() fs.FS { return content }

// ContractExample is the example repository in the contract request mode:
// Example with the files of examples/contract laid over it (its rdsbot.yaml
// sets request_mode: contract; coupled mode is off in test).
func ContractExample() fs.FS {
	out := fstest.MapFS{}
	add := func(fsys fs.FS, prefix string) {
		err := fs.WalkDir(fsys, prefix, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			rel := p
			if prefix != "." {
				rel = path.Clean(p[len(prefix)+1:])
			}
			out[rel] = &fstest.MapFile{Data: b, Mode: 0o444}
			return nil
		})
		if err != nil {
			panic("rdsbot: embedded example: " + err.Error()) // embedded content; cannot fail at run time
		}
	}
	add(content, ".")
	add(contractOverlay, "examples/contract")
	return out
}
