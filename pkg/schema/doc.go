// Package schema loads the data that drives request validation: the enum
// lists of schemas/metadata/enums.yaml, a request schema such as
// schemas/requests/rds.schema.yaml (fields, patterns, ranges, defaults,
// defaults that depend on other fields, conditional rules, size mapping,
// approval routing), the service-class approvals of
// schemas/routing/service_class_approvals.yaml and the names no request may
// take (schemas/metadata/reserved_names.yaml).
//
// Nothing here knows which environments, sizes or owners exist: every list
// comes from the files. The package is pure: it parses bytes it is given and
// checks the schema itself (an enum_from that names no list, a default that
// breaks its own field's rule, a rule on an unknown field, a key nobody
// reads), reporting every problem at once, each with its file, its line and
// the shape that was expected there. Files are read strictly: a key given
// twice, a tag or a second document is an error.
//
// # Two formats, one model
//
// A request schema is read in rdsbot's format (`fields`, each with
// `required: true|false`) or in the format the replaced system wrote
// RDS_REQUEST_V1 in (`properties` plus a top-level `required` list, rules
// as `when: {environment: prod}` / `then: {backupRetentionDays: {minimum:
// 14}}`, unnamed approval routes, `enum` in rule constraints). Both load into
// the same RequestSchema; Describe renders it so tests can prove two files
// mean the same. An enums.yaml may carry top-level single values (the
// original's `version: 1`), which are metadata, not lists.
//
// The original format lacks keys rdsbot needs: each field's dispatch input
// and issue-form label, the pattern in words, which fields rdsbot assigns,
// the base_branch and initial_schema fields its Backstage template sends,
// label requirements, decommission approvals and the environment defaults.
// They come from documented defaults (defaults/defaults.yaml, embedded), and
// only where the file says nothing; RequestSchema.Notes lists each one used,
// and `rdsbot validate` prints them. A list the enums lack
// (rds.initial_schemas) is filled the same way, and a repository without a
// reserved-names file gets the documented one (defaults/reserved_names.yaml,
// kept identical to the example's by a test).
//
// rdsbot reads the original files in place rather than offering an
// `rdsbot migrate` that rewrites them: a team adopting rdsbot keeps its
// files, its history and any tool of the old system that still reads them,
// and the defaults are visible (Notes) instead of being baked into a one-off
// conversion. Converting is still possible by hand; the equivalence test
// shows the target.
//
// # Defaults that depend on other fields, and surfaces
//
// conditional_defaults fill fields a request leaves empty when it matches
// (backups and Multi-AZ in prod); Resolve applies them. CheckSurfaces then
// proves that every intake surface (issue form, workflow_dispatch inputs,
// Backstage template, repository_dispatch, CLI flags, contract file) can make
// a valid request in every environment with what it can send plus the
// defaults, naming the rule, the surface and the environment when it
// cannot.
package schema
