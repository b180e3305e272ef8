package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// In the contract-driven mode a request's database is in its generated
// JSON, not in the tfvars: after the merge, provisioning reads it from
// there, and the app user logs in with its secret. The contract follows the
// catalog to active in the same status commits, which start nothing more.
func TestContractModeRolloutToActive(t *testing.T) {
	s, m := startRollout(t, Options{Content: rdsbot.ContractExample()})
	if _, err := s.Fake.As(Backstage).DispatchWorkflow(s.Repo, "create-rds-database.yml", "main", backstageInputs("payments", "test")); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	approveAndMerge(t, s, "rds/test/payments")
	settleRollout(t, s)

	e := catalogEntry(t, s, "test", "payments")
	if e.Metadata.Status != catalog.StatusActive {
		t.Fatalf("catalog status %s, want active; history %+v", e.Metadata.Status, e.Metadata.History)
	}
	if a := applies(t, s); len(a) != 1 {
		t.Errorf("%d applies, want 1", len(a))
	}
	var contractPath string
	files, _ := s.Fake.Files(s.Repo, "main")
	for _, f := range files {
		if strings.HasPrefix(f, "docs/20-contracts/rds-requests/test/") {
			contractPath = f
		}
	}
	ct, err := s.Fake.File(s.Repo, "main", contractPath)
	if err != nil || !strings.Contains(string(ct), "status: active") {
		t.Errorf("contract %s on main (%v):\n%s", contractPath, err, ct)
	}
	for _, c := range mainCommits(t, s) {
		_, to, ok := strings.Cut(strings.SplitN(c.Message, "\n", 2)[0], "→ ")
		if !strings.Contains(c.Message, "[skip ci]") || !ok {
			continue
		}
		to = strings.Fields(to)[0]
		if at, _ := s.Fake.File(s.Repo, c.SHA, contractPath); !strings.Contains(string(at), "status: "+to) {
			t.Errorf("at the status commit %q the contract is not %s:\n%s", c.Message, to, at)
		}
	}
	settleRollout(t, s)
	if a := applies(t, s); len(a) != 1 {
		t.Errorf("%d applies after the status commits, want 1", len(a))
	}
	sec, err := s.Rollout.Options.Secrets.Get(context.Background(), "goldenpath/test/payments/postgres")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := secrets.ParseCredentials(sec.Value)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/payments?sslmode=verify-full&sslrootcert=%s", creds.Username, creds.Password, m.Host, m.Port, m.CAFile)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("the app user cannot log in: %v", err)
	}
	conn.Close(context.Background())
	if creds.Username != "payments_app" {
		t.Errorf("secret's user %q, want payments_app", creds.Username)
	}
}
