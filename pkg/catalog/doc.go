// Package catalog reads and edits the RDS catalog, the YAML record of every
// requested database, and holds the request status state machine.
//
// The package is pure: bytes in, bytes out, the time passed in. It edits the
// document as a gopkg.in/yaml.v3 node tree, so head, line and foot comments
// and the order of keys survive every edit; only the fields an edit names
// change. Output is encoded with two-space indentation, strings are quoted
// only where YAML needs it, dates and timestamps always in double quotes.
// Every output is parsed again and must read back to the same header and
// entries before Bytes returns it. A file that no edit changed is returned
// byte for byte as it was read. (yaml.v3 does not keep blank lines between
// keys or the spacing before a line comment, so the first edit of a
// hand-written file normalizes those; files written by rdsbot are stable.)
//
// # Layouts
//
// LayoutPerEnv (the default) is one file per environment,
// rds-catalog/<env>.yaml:
//
//	version: "1.0"
//	domain: platform-core
//	owner: platform-team          # forced to platform-team on every change
//	last_updated: "2026-02-03"    # the day of the last change, UTC
//	managed_by: platform-team     # forced to platform-team on every change
//	environment: dev
//	rds_instance: goldenpath-dev-platform-dev   # when known
//	databases:
//	  orders:
//	    metadata:
//	      id: DATABASE_ORDERS
//	      request_id: RDS-0042
//	      owner: app-team
//	      requested_by: jdoe
//	      domain: delivery
//	      risk: low
//	      environment: dev
//	      status: pending
//	      created_date: "2026-02-03"
//	      pr: 17                   # once known
//	      pr_url: https://github.com/acme/infra/pull/17
//	      status_history:
//	        - status: pending
//	          at: "2026-02-03T10:04:05Z"
//	    configuration:
//	      username: orders_user
//	      size_tier: small
//	      instance_class: db.t3.micro
//	      secret_path: goldenpath/dev/orders/postgres
//
// LayoutSingleFile is the original single catalog for every environment, with
// the same entries keyed by database name only and no environment or
// rds_instance in the header. A request for a name that already exists in
// another environment is refused (defect G-9 of the original overwrote it).
//
// A missing or empty file is seeded with the header and `databases: {}`. The
// original's `databases: {}` followed by a commented example keeps the
// comment after the first entry is added.
//
// # Upsert
//
// Upsert records a request (Spec). A new entry is pending, with
// id DATABASE_<NAME>, created_date and a first history event. An existing
// entry of the same request keeps status, created_date, history and id
// (defect G-8 of the original reset them), and its other fields are updated
// only while it is pending or failed. An upsert that changes nothing is not an edit: it
// returns changed == false, Bytes returns the input unchanged, and this holds
// whatever the entry's status, so a replayed request is harmless. Errors
// wrapping ErrConflict refuse a takeover: an entry of another request, an
// entry that records no request_id (written before rdsbot; adding the
// request_id by hand adopts it), a name used by another environment in the
// single-file layout, or a change to an entry that is approved or later.
//
// last_updated is bumped, and owner/managed_by forced, only when an edit
// changed something, so identical input gives identical bytes.
//
// # Status state machine
//
// The statuses and their legal moves are pkg/lifecycle's (the one request
// model shared with the bot's views):
//
//	pending         → approved | failed (merged without the approvals)
//	approved        → applying | provisioning | failed
//	applying        → provisioning | active | failed
//	provisioning    → active | failed
//	failed          → applying | provisioning | decommissioning (a retry)
//	active          → decommissioning
//	decommissioning → decommissioned (final) | failed
//
// CheckTransition allows exactly these moves; anything else, including
// staying in the same status, is a *TransitionError naming both statuses and
// the legal next ones. SetStatus applies a transition and appends
// {status, at, note} to status_history.
//
// pending → provisioning is not allowed: approval is always its own step.
// The bot must not record approval on the pull request branch, because a
// commit there changes the content the approvals were given on and so
// dismisses them. Approval is therefore recorded after the merge, in the
// same catalog commit as the start of provisioning, as two history events
// (approved, then provisioning) with their own times. Keeping the step
// explicit means the history always shows that, and when, a request was
// approved.
//
// The statuses are the values of the schema enum rds.request_status;
// CheckStatusEnum compares them with the enum's list so the two cannot
// drift apart.
//
// # Reading
//
// Entries and Get return typed entries for the planner and the validate
// command; reading is lenient and Validate reports every problem at once as
// *FieldError values with file, line and field path.
package catalog
