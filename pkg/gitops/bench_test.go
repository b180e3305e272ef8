package gitops_test

import (
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/contract"
	"github.com/rdsbot/rdsbot/pkg/gitops"
	"github.com/rdsbot/rdsbot/pkg/tfvars"
	"github.com/zclconf/go-cty/cty"
)

// withRequests returns the example repository holding n earlier requests
// in staging: n request contracts (contract mode) or n application_databases
// entries (direct mode).
func withRequests(b *testing.B, contractMode bool, n int) (fs.FS, *gitops.Planner) {
	b.Helper()
	base := rdsbot.Example()
	if contractMode {
		base = rdsbot.ContractExample()
	}
	out := fstest.MapFS{}
	fs.WalkDir(base, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(base, p)
			out[p] = &fstest.MapFile{Data: data}
		}
		return err
	})
	p, err := gitops.New(out)
	if err != nil {
		b.Fatal(err)
	}
	const tfv = "envs/staging-rds/terraform.tfvars"
	src := out[tfv].Data
	for i := range n {
		db := fmt.Sprintf("db_%05d", i)
		if !contractMode {
			src, err = tfvars.UpsertEntry(src, tfv, tfvars.Path{"application_databases"}, db,
				[]tfvars.Attr{{Name: "database_name", Value: cty.StringVal(db)}, {Name: "username", Value: cty.StringVal(db + "_app")}})
			if err != nil {
				b.Fatal(err)
			}
			continue
		}
		req, probs := contract.Validate(p.Schema, contract.FromFlags(map[string]string{"databaseName": db, "username": db + "_app",
			"environment": "staging", "owner": "app-team", "domain": "cost", "requester": "jane"}))
		if probs.Err() != nil {
			b.Fatal(probs)
		}
		req = req.WithID(fmt.Sprintf("RDS-%04d", i+1))
		doc, err := req.ContractYAML(p.Schema.Request, "active", "2026-01-01")
		if err != nil {
			b.Fatal(err)
		}
		out[p.Config.ContractPath("staging", req.ID)] = &fstest.MapFile{Data: doc}
	}
	out[tfv] = &fstest.MapFile{Data: src}
	return out, p
}

// BenchmarkPlanRequest plans one new request in an environment that already
// holds n requests, in each mode. The contract mode reads every contract of
// the environment (to refuse a database or role another request holds), so
// it grows with n like the direct mode's tfvars parse; the ratio is printed.
func BenchmarkPlanRequest(b *testing.B) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, n := range []int{10, 1000} {
		perOp := map[bool]float64{}
		for _, mode := range []bool{false, true} {
			name := map[bool]string{false: "direct", true: "contract"}[mode]
			b.Run(fmt.Sprintf("%s/n=%d", name, n), func(b *testing.B) {
				repo, p := withRequests(b, mode, n)
				req, probs := contract.Validate(p.Schema, contract.FromFlags(map[string]string{"databaseName": "orders_service",
					"username": "orders_app", "environment": "staging", "owner": "app-team", "domain": "cost", "requester": "jane"}))
				if probs.Err() != nil {
					b.Fatal(probs)
				}
				req = req.WithID("RDS-9999")
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if _, err := p.PlanRequest(repo, req, now); err != nil {
						b.Fatal(err)
					}
				}
				perOp[mode] = float64(time.Since(start)) / float64(b.N)
			})
		}
		if perOp[false] > 0 {
			b.Logf("n=%d: contract mode %.2fx the direct mode (%.0f µs vs %.0f µs per plan)", n, perOp[true]/perOp[false], perOp[true]/1e3, perOp[false]/1e3)
		}
	}
}
