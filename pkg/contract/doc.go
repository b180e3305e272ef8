// Package contract is the RDS request model (RDS_REQUEST_V1) and its intake.
//
// A request arrives as the ten workflow_dispatch inputs of
// create-rds-database.yml (the Backstage path), a repository_dispatch payload,
// a GitHub issue-form body, a request YAML file or CLI flags. Each parser turns
// its source into a Raw request (field name to value as written, with where it
// was read and the name the requester used for it); Validate then applies the
// request schema from schemas/: types, patterns, enums, ranges, defaults
// (those that depend on other fields too), reserved names and the
// conditional rules, evaluated generically. Validation never stops at the
// first problem: every problem comes back at once, each naming the field as
// the requester wrote it on that surface (database_name for a dispatch, the
// form label on the issue form, spec.databaseName in a file, --database-name
// on the command line), the value and the rule in words a requester
// understands. Nothing here hard-codes an enum or a size list.
//
// Input is read strictly, because ambiguity is where a request silently
// becomes something else: duplicate keys (YAML and JSON), anchors, aliases,
// tags, a second YAML document, unknown keys, unknown issue-form sections and
// one field given under two names are refused with their position. A file
// that is not YAML at all is reported alone (Raw.Unreadable), never followed
// by "is required" lines. Numbers are taken as written: 7.0 is seven, 7.5 is
// not a whole number, "7" in quotes is text.
//
// A validated Request renders back to an RDS_REQUEST_V1 file
// (ContractYAML) that reads back to the same values: the request contract of
// the contract mode.
//
// The package is pure: it reads the bytes and values it is given.
package contract
