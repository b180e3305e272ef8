// Package secrets reads and writes the credentials rdsbot provisions with.
//
// A Store holds named secrets, each with a current version: Describe gives the
// current version id without the value, Get the value, Create adds a secret
// that must not exist yet, Put adds a new current version. Three stores:
//
//   - AWS: AWS Secrets Manager through aws-sdk-go-v2, configured the SDK's
//     standard way (region, credential chain, AWS_ENDPOINT_URL_SECRETS_MANAGER).
//     The SDK's standard retryer retries throttling, 5xx answers and broken
//     connections with backoff; Create and Put send an idempotency token, so a
//     retried write never makes a second version.
//   - File: one JSON file per secret under a directory, mode 0600, for local
//     use and the sandbox. The version id is a digest of the content, so
//     editing a file by hand is a new version.
//   - Memory: for tests.
//
// Package smfake is an HTTP stand-in of Secrets Manager's JSON 1.1 protocol
// (X-Amz-Target: secretsmanager.*) that the AWS store is tested against.
//
// Errors: a missing secret is a *NotFoundError naming the path (errors.Is
// ErrNotFound); creating one that exists is ErrExists; a secret scheduled for
// deletion is ErrDeleted; access denied is ErrAccessDenied.
//
// Credentials is the JSON shape Terraform and RDS write (username, password,
// host, port, dbname, engine). It never prints its password: String,
// GoString, Format and LogValue all redact it.
package secrets
