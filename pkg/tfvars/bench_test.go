package tfvars

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// benchFile is a standalone tfvars (spec §3.1 shape) whose
// application_databases map has n entries.
func benchFile(n int) []byte {
	var b bytes.Buffer
	b.WriteString("environment       = \"dev\"\naws_region        = \"eu-west-2\"\nowner_team        = \"platform-team\"\n")
	b.WriteString("# Application Databases (Bounded Contexts)\napplication_databases = {\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "  db%05d = {\n    database_name = \"db%05d\"\n    username      = \"db%05d_user\"\n  }", i, i, i)
	}
	b.WriteString("\n}\n")
	return b.Bytes()
}

// floor is the cost the editor is compared with: hclwrite's own round trip
// of the same file, without any edit.
func floor(src []byte) {
	f, diags := hclwrite.ParseConfig(src, "t.tfvars", hcl.InitialPos)
	if diags.HasErrors() {
		panic(diags.Error())
	}
	_ = f.Bytes()
}

// timeFloor measures the floor per operation over about as long as the
// benchmark itself ran, in the same process.
func timeFloor(src []byte, d time.Duration) time.Duration {
	n := 0
	start := time.Now()
	for n < 3 || time.Since(start) < d {
		floor(src)
		n++
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkUpsert upserts one entry into maps of 10, 1,000 and 10,000
// entries. Each sub-benchmark reports x-floor: its time per operation
// divided by hclwrite.ParseConfig + Bytes of the same file, measured in the
// same run. Goal: x-floor <= 1.5 and ns/entry flat across sizes.
//
//	go test -run '^$' -bench BenchmarkUpsert -benchmem ./pkg/tfvars
func BenchmarkUpsert(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		src := benchFile(n)
		existing := fmt.Sprintf("db%05d", n/2)
		ops := []struct {
			name string
			run  func() error
		}{
			{"new", func() error {
				_, err := UpsertEntry(src, "t.tfvars", adb, "orders", db("orders", "orders_user"))
				return err
			}},
			{"same", func() error { // the entry is there with this value: no change
				_, err := UpsertEntry(src, "t.tfvars", adb, existing, db(existing, existing+"_user"))
				return err
			}},
			{"changed", func() error {
				_, err := UpsertEntry(src, "t.tfvars", adb, existing, db(existing, "other_user"))
				return err
			}},
			{"remove", func() error {
				_, _, err := RemoveEntry(src, "t.tfvars", adb, existing)
				return err
			}},
		}
		b.Run(fmt.Sprintf("entries=%d/floor", n), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				floor(src)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
		b.Run(fmt.Sprintf("entries=%d/hclsyntax-parse", n), func(b *testing.B) {
			// One full hclsyntax parse: what locating costs, and what a
			// whole-file re-parse for verification would add.
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, diags := hclsyntax.ParseConfig(src, "t.tfvars", hcl.InitialPos); diags.HasErrors() {
					b.Fatal(diags)
				}
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(timeFloor(src, b.Elapsed())), "x-floor")
		})
		for _, op := range ops {
			b.Run(fmt.Sprintf("entries=%d/%s", n, op.name), func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					if err := op.run(); err != nil {
						b.Fatal(err)
					}
				}
				per := b.Elapsed() / time.Duration(b.N)
				b.ReportMetric(float64(per)/float64(timeFloor(src, b.Elapsed())), "x-floor")
				b.ReportMetric(float64(per.Nanoseconds())/float64(n), "ns/entry")
			})
		}
	}
}
