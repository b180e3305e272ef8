package catalog

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// benchCatalog renders a per-env catalog of n entries in rdsbot's own format.
func benchCatalog(n int) []byte {
	var b strings.Builder
	b.WriteString("# benchmark catalog\nversion: \"1.0\"\ndomain: platform-core\nowner: platform-team\n" +
		"last_updated: \"2026-01-20\"\nmanaged_by: platform-team\nenvironment: dev\ndatabases:\n")
	for i := range n {
		name := fmt.Sprintf("db_%05d", i)
		fmt.Fprintf(&b, `  %[1]s:
    metadata:
      id: %[2]s
      request_id: RDS-%04[3]d
      owner: app-team
      requested_by: jdoe
      domain: delivery
      risk: low # reviewed
      environment: dev
      status: active
      created_date: "2026-01-10"
      status_history:
        - status: pending
          at: "2026-01-10T09:00:00Z"
        - status: approved
          at: "2026-01-10T10:00:00Z"
          note: approved by @acme/platform-team
    configuration:
      username: %[1]s_user
      size_tier: small
      instance_class: db.t3.micro
      secret_path: goldenpath/dev/%[1]s/postgres
`, name, LegacyID(name), i+1)
	}
	return []byte(b.String())
}

// floorOnce is the least any node-preserving edit must do: yaml.v3
// Unmarshal into a Node and encode it again.
func floorOnce(b *testing.B, src []byte) []byte {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		b.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkUpsert measures Parse + Upsert (a new entry) + Bytes (encode,
// re-parse, compare) against the floor on the same file, interleaved in one
// run, and reports the ratio as x-floor. ns/op also counts the floor and
// two forced collections per iteration; read upsert-ns/op.
func BenchmarkUpsert(b *testing.B) {
	opts := Options{Environment: "dev", Filename: "rds-catalog/dev.yaml"}
	for _, n := range []int{10, 1000, 10000} {
		src := benchCatalog(n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var floor, ours time.Duration
			iters := 0
			for b.Loop() {
				// Each half starts from a collected heap, so neither pays
				// for the other's garbage.
				runtime.GC()
				start := time.Now()
				floorOnce(b, src)
				floor += time.Since(start)
				runtime.GC()
				mid := time.Now()
				f, err := Parse(src, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Upsert(spec("zz_new", "dev", "RDS-99999"), t0); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Bytes(); err != nil {
					b.Fatal(err)
				}
				ours += time.Since(mid)
				iters++
			}
			b.ReportMetric(float64(ours.Nanoseconds())/float64(iters), "upsert-ns/op")
			b.ReportMetric(float64(floor.Nanoseconds())/float64(iters), "floor-ns/op")
			b.ReportMetric(float64(ours)/float64(floor), "x-floor")
		})
	}
}
