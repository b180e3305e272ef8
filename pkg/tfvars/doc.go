// Package tfvars edits Terraform tfvars files the way a careful person would,
// and type-checks them against a root module's variable declarations.
//
// # Editing
//
// UpsertEntry and RemoveEntry add, change or remove one entry of a map-valued
// attribute, at top level (application_databases = { ... }) or nested in an
// object (rds_config = { application_databases = { ... } }); SetAttribute
// sets one attribute anywhere (rds_config.enabled = true); Entries and Lookup
// read values back as cty values. Paths are attribute names from the top:
// Path{"rds_config", "application_databases"}.
//
// # Why splicing
//
// hclwrite cannot address an item inside an object-constructor expression
// (hashicorp/hcl#366): to it, the whole `{ ... }` after `application_databases
// =` is one opaque run of tokens. Formatting the whole file with
// hclwrite.Format would reach the entry but also reformat code nobody asked to
// touch. So the editor works on the bytes:
//
//  1. The file is parsed once with hclsyntax. Its source ranges locate the
//     attribute, the object constructor, every item's key and value, and from
//     those the commas, comments and line ends around each item.
//  2. The new text is built with hclwrite (strings via TokensForValue, which
//     escapes quotes, backslashes, control characters and the template
//     introducers ${ and %{) and formatted with hclwrite.Format on its own.
//  3. It is spliced into the original bytes as one contiguous change.
//     Formatting covers only the edited item plus the lines hclwrite.Format
//     would align it with (a run of `key = value` lines, or of trailing
//     comments, is one alignment chain: cutting one would misalign it).
//  4. The result is re-parsed and checked (see verify.go): the edited region
//     is re-parsed in a window of whole items cut at item boundaries, which is
//     enough to prove the whole file parses; the re-parsed items must be the
//     old ones plus or minus the edited key, and the edited key must read back
//     equal to the requested value. A failure is an ErrVerify error; bytes are
//     returned only when every check passed.
//
// # What is preserved
//
// Every byte outside the edited region: other attributes (aligned or not),
// comments, heredocs, templates, blank lines, other entries. Inside the map:
//
//   - Key style: a new key is quoted when most existing keys are, bare
//     otherwise; bare for an empty map when the key is an identifier. Keys
//     that are not identifiers (or are HCL keywords) are always quoted.
//     Existence is by exact key after evaluation: "keycloak" and keycloak are
//     the same key, cloak is not keycloak.
//   - Separators: in a map whose entries end in `},` the new entry is
//     separated by a comma too (the previous last entry gets one when the map
//     puts none after its last entry); newline-separated maps stay so; a blank
//     line between the last two entries is repeated; a map written on one line
//     stays on one line; one-line entries get a one-line entry.
//   - Comments: an existing entry whose value changes is edited attribute by
//     attribute, so comments above it, after it and inside it stay. Removing
//     an entry removes the comment lines directly above it (no blank line in
//     between, as hclwrite does for attributes) and its trailing comment.
//   - Line endings: existing lines keep theirs, even in a file that mixes
//     them (hclwrite.Format only changes spaces); new lines use the line
//     ending of the place they are inserted at, so a CRLF file stays CRLF.
//   - Indentation: new lines are indented like their neighbours (a tab unit
//     in tab-indented files); nested lines inside new values use
//     hclwrite.Format's two spaces.
//   - Idempotency: an upsert whose value equals the existing one returns the
//     input itself, byte for byte; an upsert of a new key followed by its
//     removal gives the input back (for Format-clean input without comments
//     directly above the new entry's position).
//
// Decisions:
//
//   - Strings are always written as escaped quoted strings, never rejected:
//     ${ becomes $${, %{ becomes %%{, newlines \n, and so on; values read back
//     equal (tested, and fuzzed). Unknown, marked or capsule values, infinite
//     numbers and strings that are not UTF-8 are rejected with ErrInvalidValue.
//     Keys and attribute names are normalised to Unicode NFC, as HCL does
//     when it reads them.
//   - A missing top-level attribute is an ErrNotFound error for UpsertEntry,
//     RemoveEntry and Entries (the file is probably the wrong one). A missing
//     nested map (rds_config without application_databases) is created by
//     UpsertEntry, is empty for Entries and RemoveEntry. SetAttribute adds a
//     missing attribute to an existing object and appends a missing top-level
//     attribute to the file; it never creates intermediate objects.
//   - A map left without entries is written {}.
//   - Alignment chains that reach across an object's braces (a trailing
//     comment on the `{` line aligned with one on the first entry) are not
//     recomputed; everything else matches hclwrite.Format: an edit of a
//     Format-clean file leaves it Format-clean.
//
// Errors are *Error values whose message names the file, the line when there
// is one, and the attribute path, e.g.
//
//	envs/dev-rds/terraform.tfvars: attribute "application_databases" not found
//
// and whose Kind (ErrSyntax, ErrNotFound, ErrNotMap, ErrDuplicateKey,
// ErrInvalidValue, ErrVerify) works with errors.Is.
//
// # Type checking
//
// ParseVariables reads the variable blocks of a root's .tf files; type
// constraints go through typeexpr.TypeConstraintWithDefaults, so
// optional(type, default) is understood. Variables.Check reports, all at
// once and with file:line, attributes that name no declared variable, values
// that do not convert to the declared type, missing required object
// attributes, attributes the type does not declare (Terraform would drop them
// silently: spec G-16's access_level), keys set twice, and as information the
// required variables the file leaves to another source:
//
//	envs/dev-rds/terraform.tfvars:14: application_databases["orders"]: attribute "username" is required
//
// The package does no I/O: callers pass bytes and file names.
package tfvars
