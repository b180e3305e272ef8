// Package gitops is the planner: from a snapshot of the managed repository
// (read-only files), the schemas, the configuration and a validated request,
// it computes the change set (path to new bytes) and the pull request that
// carries it: branch, title, commit message, labels and body.
//
// The planner is pure. It never writes, never reads the clock (the time is an
// input) and gives the same bytes for the same input, so a replayed or
// re-planned request produces an identical commit, or none.
//
// A request always edits the standalone root's application_databases map
// (envs/<env>-rds/terraform.tfvars) and the catalog; when coupled mode is on
// for the environment (rds_config.enabled = true in envs/<env>/terraform.tfvars)
// it edits rds_config.application_databases too, so the two never drift.
// Every edited tfvars file is type-checked against its root's variables.tf.
package gitops
