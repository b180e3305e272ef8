// Package gen builds the request entry points from the schemas, so the lists
// a requester picks from can never drift from schemas/metadata/enums.yaml:
//
//   - the GitHub issue form (.github/ISSUE_TEMPLATE/rds-request.yml),
//   - the inputs of the create-rds-database workflow, a dispatch target whose
//     job does nothing (the App reacts to the workflow_dispatch webhook),
//   - the Backstage scaffolder template that dispatches that workflow.
//
// Generation is pure and deterministic: the same schemas and configuration
// give the same bytes, which is what `rdsbot gen --check` compares.
package gen
