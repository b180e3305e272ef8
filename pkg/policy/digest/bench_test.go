package digest_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rdsbot/rdsbot/pkg/policy/digest"
	"gopkg.in/yaml.v3"
)

// catalogOf builds a per-env catalog and a tfvars map with n entries.
func catalogOf(n int) (cat, tfvars []byte) {
	var c, t strings.Builder
	c.WriteString("version: \"1.0\"\nlast_updated: \"2026-11-27\"\ndatabases:\n")
	t.WriteString("application_databases = {\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&c, "  db_%d:\n    metadata:\n      id: DATABASE_DB_%d\n      request_id: RDS-%04d\n      status: active\n      created_date: \"2026-01-01\"\n    configuration:\n      username: db_%d_app\n      size_tier: small\n", i, i, i, i)
		fmt.Fprintf(&t, "  db_%d = { database_name = \"db_%d\", username = \"db_%d_app\" }\n", i, i, i)
	}
	t.WriteString("}\n")
	return []byte(c.String()), []byte(t.String())
}

// BenchmarkDigest digests a pull request adding one entry to files holding
// n entries. The floors, measured in the same run: parsing both sides of
// both files (yaml.v3 nodes, hclsyntax), which any structural digest needs,
// and SHA-256 of the bytes, which a byte digest needs. Report digest/parse.
func BenchmarkDigest(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		oldCat, oldTF := catalogOf(n)
		newCat, newTF := catalogOf(n + 1)
		files := []digest.File{
			{Path: "rds-catalog/dev.yaml", Old: oldCat, New: newCat},
			{Path: "envs/dev-rds/terraform.tfvars", Old: oldTF, New: newTF},
		}
		size := int64(len(oldCat) + len(newCat) + len(oldTF) + len(newTF))
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := digest.Compute(files, digest.Options{Base: "main"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("parse-floor/entries=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, src := range [][]byte{oldCat, newCat} {
					var node yaml.Node
					if err := yaml.Unmarshal(src, &node); err != nil {
						b.Fatal(err)
					}
				}
				for _, src := range [][]byte{oldTF, newTF} {
					if _, diags := hclsyntax.ParseConfig(src, "t.tfvars", hcl.InitialPos); diags.HasErrors() {
						b.Fatal(diags)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("sha256-floor/entries=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				for _, f := range files {
					sha256.Sum256(f.Old)
					sha256.Sum256(f.New)
				}
			}
		})
	}
}
