// Package apply runs terraform for rdsbot: plans of pull requests and
// applies of merge commits, through the runner each environment names in
// rdsbot.yaml (apply.runner, apply.runners; see config.Apply).
//
// # Runners
//
// Local runs terraform (or tofu) itself. For each run it makes a fresh
// directory (mode 0700) under apply.terraform.work_dir, writes the
// repository at the commit into it through the GitHub API (forge's
// Snapshot: one tree listing, blobs fetched by id and cached across runs;
// no git, so no credential is ever written to disk; symbolic links that
// leave the tree are refused), and runs in each root:
//
//	init  -input=false -no-color -lock-timeout=D -backend-config=k=v ...
//	plan  -input=false -no-color -lock-timeout=D -out=tfplan -json
//	show  -no-color tfplan                              (Plan only)
//	apply -input=false -no-color -lock-timeout=D -json tfplan
//
// The saved plan is applied only when its summary passes the policy
// (below). terraform gets a clean environment: PATH, HOME and TMPDIR inside
// the run's directory, TF_IN_AUTOMATION=1, TF_INPUT=0, CHECKPOINT_DISABLE=1,
// the variables apply.terraform.pass_env names (AWS credentials by name)
// and apply.terraform.env; nothing else of rdsbot's environment (its
// webhook secret, its App key, a TF_CLI_CONFIG_FILE) reaches it. Each
// command runs in its own process group: at the timeout (or when the
// caller's context ends) the group gets SIGINT, so terraform stops cleanly
// and releases the state lock, and SIGKILL after apply.terraform.kill_grace;
// whatever of the group outlives the command (provider plugins) is killed.
// The log streams to Request.Log line by line (lines cut at MaxLine, the
// machine-readable UI shown as its messages, passed secret values masked),
// and the outcome keeps its last ExcerptLines lines. The directory is
// removed when the run ends, whatever the end.
//
// Actions dispatches the apply workflow (.github/workflows/rds-apply.yml)
// on the request's branch with the commit, the environment, the request
// ids and a run key as inputs, and follows the run: workflow_run webhooks
// fed to Observe wake the waiter, and the run is read every
// apply.actions.poll_every when none comes. GitHub is asked for the run id
// (return_run_details); a server that ignores or refuses that parameter is
// handled by finding the run by the key the workflow puts in its run-name.
// Start looks for the key before dispatching, so a retried job or a crash
// after the dispatch never starts a second run. Re-runs keep the run id
// and raise run_attempt: Rerun starts one, Wait follows a given attempt,
// and Observe reports attempts a person started. Apply follows the newest
// attempt of the run it finds; with Request.Rerun it first re-runs the
// failed jobs of a run that ended without success. A webhook only wakes a
// waiter: the outcome is always read from the API.
//
// # Plans and the policy
//
// SummarizeUI reads `terraform plan -json` (planned_change,
// resource_drift, change_summary, diagnostic) and SummarizeShow reads
// `terraform show -json` (resource_changes[].change.actions, never the
// values). Both are pure. A plan fails when it would destroy or replace a
// database instance, a Secrets Manager secret or secret version
// (AlwaysProtected) or anything apply.plan.protected lists, when terraform
// reported an error, or when its output was cut short. A decommission may
// allow deleting named addresses (Request.AllowDestroy); never an instance
// (NeverDestroyed), never a replace. Report renders an outcome as markdown
// for a check run: verdict, counts, destructive changes first, each root's
// plan text folded in <details>, within GitHub's 65,535 characters; all
// text from the plan sits in code spans or fences.
//
// # Trust
//
// A plan executes code from the commit (providers, data sources, external
// programs) with the credentials the runner passes. Plan only commits whose
// content rdsbot trusts (request branches it wrote), or give plans
// read-only credentials.
//
// Tests and the sandbox use the stand-in terraform of package tfstandin.
package apply
