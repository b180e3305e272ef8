// Package tfstandin is a stand-in for the terraform (or tofu) executable,
// for tests and the sandbox, where neither can be installed. It is a real
// program that the runner execs: the rdsbot binary becomes the stand-in
// when it is started under a name beginning with "terraform-standin" or
// "tofu-standin" (busybox style, see Invoked), and pkg/apply's tests do the
// same with their own test binary. The name is deliberately not
// "terraform": a configuration that runs the stand-in says so in its path,
// and nothing can mistake it for a real apply.
//
// It behaves like terraform where the runner can tell:
//
//   - init writes .terraform/ with the -backend-config it was given; plan
//     refuses to run without it.
//   - plan reads the root's *.tf (resource blocks, for_each over a variable,
//     count) and the variables (defaults, terraform.tfvars, *.auto.tfvars,
//     *.auto.tfvars.json), compares the resource instances with the state
//     of the backend's key, and reports creates, updates and deletes; -json
//     speaks the machine-readable UI (version, planned_change,
//     change_summary, diagnostic); -out writes a plan file.
//   - show prints a plan file as text, or as JSON with
//     resource_changes[].change.actions.
//   - apply of a saved plan refuses a stale plan (the state moved since),
//     emits apply_start, apply_complete and change_summary, and writes the
//     state. The state lives in the stand-in's directory, one file per
//     backend bucket and key, locked while a command uses it (-lock-timeout).
//
// # Its directory
//
// $TF_STANDIN_DIR, or else "<executable path>.d" beside the path it was
// started as. There:
//
//	calls.jsonl    one line per invocation: arguments, working directory,
//	               environment (values of names that look secret are
//	               hashed), every file of the working tree with its
//	               SHA-256, and the pids of the process and its "provider"
//	state/         the state per backend bucket and key, and its lock
//	control.json   optional knobs, read at every invocation
//
// # Knobs
//
// control.json holds {"fail": CMD, "hang": CMD, "destroy": [ADDR...],
// "replace": [ADDR...], "message": TEXT}; the environment variables
// TF_STANDIN_FAIL, TF_STANDIN_HANG, TF_STANDIN_DESTROY and
// TF_STANDIN_REPLACE (comma-separated addresses) do the same when the
// runner passes them. CMD is init, plan, show, apply or "any".
// TF_STANDIN_TREE_UP=N records the tree N directories above the working
// directory instead of the working directory itself.
//
//   - fail: the command prints an error diagnostic (message, or a default
//     one) and exits 1; an apply fails after starting its first change.
//   - hang: the command records its call, starts a child process (as
//     terraform starts provider plugins), ignores SIGINT and never returns:
//     only killing its process group ends it.
//   - destroy, replace: plan adds a delete (or a delete-then-create) of
//     these addresses, for example aws_db_instance.platform.
package tfstandin
