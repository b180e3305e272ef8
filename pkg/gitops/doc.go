// Package gitops is the planner: from a snapshot of the managed repository
// (read-only files), the schemas, the configuration and a validated request,
// it computes the change set (path to new bytes, or a deletion) and the pull
// request that carries it: branch, title, commit message, labels and body.
//
// The planner is pure. It never writes, never reads the clock (the time is an
// input) and gives the same bytes for the same input, so a replayed or
// re-planned request produces an identical commit, or none.
//
// Each repository chooses its request mode in rdsbot.yaml:
//
//   - direct (default): a request edits the standalone root's
//     application_databases map (envs/<env>-rds/terraform.tfvars) and the
//     catalog; when coupled mode is on for the environment
//     (rds_config.enabled = true in envs/<env>/terraform.tfvars) it edits
//     rds_config.application_databases too, so the two never drift. Every
//     edited tfvars file is type-checked against its root's variables.tf.
//   - contract: a request adds its request contract (RDS_REQUEST_V1 with its
//     status), the files generated from it (the rds_databases JSON the
//     standalone root reads and an ExternalSecret manifest) and the catalog
//     entry; the tfvars are never edited. The contract is the one source of
//     truth: Outputs renders the generated files from it and `rdsbot
//     validate` refuses any difference. Decommission removes the generated
//     files and moves contract and catalog to decommissioning; PlanStatus
//     moves both together.
//
// Errors the request causes (a name held by another entry or contract, a
// base branch that is not allowed, a reserved name) wrap ErrInvalidRequest.
package gitops
