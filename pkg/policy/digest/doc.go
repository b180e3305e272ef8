// Package digest computes the content digest of a request pull request:
// what the pull request does, independent of the base commit it sits on.
//
// Approvals bind to this digest rather than to a commit. When the bot
// re-plans its branch on a base where other requests have merged, the
// commits change but the digest does not, so approvals are kept; a human
// push, an edited request or a retarget to another base branch changes the
// digest, so approvals given before it no longer count.
//
// # Definition
//
// The input is every file the pull request changes, as (path, bytes at the
// merge base or absent, bytes at the head or absent). Each side is
// flattened to leaves (key path → canonical value):
//
//   - .tf and .tfvars: HCL native syntax (hclsyntax). Attributes and block
//     bodies become key paths (block type and labels are path segments;
//     repeated blocks get an index); object and tuple constructors are
//     walked item by item; a literal value is its cty value; any other
//     expression (a reference, a function call) is its token text with
//     whitespace and comments removed.
//   - .yaml and .yml: yaml.v3 nodes; mapping keys and sequence indexes are
//     path segments; scalars are typed by their resolved tag, so `50` and
//     `"50"` differ but `'x'` and `x` do not, and a timestamp-looking
//     scalar is a string whether quoted or not.
//   - .json: encoding/json tokens.
//   - anything else, and any file that does not parse, has a duplicate key,
//     or flattens to more than MaxLeaves leaves: the SHA-256 of its bytes.
//
// Every file that exists also has a leaf with the empty key path, so adding
// or removing a file (even an empty one) is a change.
//
// A change is a key path whose value differs between the two sides (added,
// changed or removed). The digest is SHA-256 over the base branch name and
// the sorted changes, each with its old and new value, in a length-prefixed
// encoding, written "v1:<hex>". Including the old value means that the same
// edit made on top of a different value (another pull request that changed
// the same key first, in a merge queue) is other content.
//
// Formatting never matters: whitespace, alignment, comments, key order,
// quoting style and number spelling (50, 50.0, 5e1) flatten to the same
// leaves.
//
// # Volatile keys
//
// A few values change whenever the bot re-plans, without changing what the
// request does: the catalog's last_updated, a new entry's created_date and
// the times in its status_history. Volatile rules (a file glob and a key
// path pattern) name them; changes they match are left out of the digest
// and of the change list. VolatileFor builds the rules for a configuration
// from CatalogVolatileKeys.
package digest
