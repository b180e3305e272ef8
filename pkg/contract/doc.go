// Package contract is the RDS request model (RDS_REQUEST_V1) and its intake.
//
// A request arrives as the ten workflow_dispatch inputs of
// create-rds-database.yml (the Backstage path), a repository_dispatch payload,
// a GitHub issue-form body, a request YAML file or CLI flags. Each parser turns
// its source into a Raw request (field name to value as written, with where it
// was read); Validate then applies the request schema from schemas/: types,
// patterns, enums, ranges, defaults and the conditional rules, evaluated
// generically. Validation never stops at the first problem: every problem
// comes back at once, each naming the field, the value and the rule in words a
// requester understands. Nothing here hard-codes an enum or a size list.
//
// The package is pure: it reads the bytes and values it is given.
package contract
