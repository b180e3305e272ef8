package sandbox

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rdsbot/rdsbot"
	"github.com/rdsbot/rdsbot/pkg/catalog"
	"github.com/rdsbot/rdsbot/pkg/secrets"
)

// In the contract-driven mode a request's database is in its generated
// JSON, not in the tfvars: after the merge, provisioning reads it from
// there, and the app user logs in with its secret.
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
