// Package bot joins the pieces of rdsbot into the GitHub App's behaviour:
// webhook deliveries become request jobs, request jobs turn a request issue
// (an issue form, or one the bot opened for a dispatch) into a pull request
// through the planner, and one status comment on the issue follows the
// request through its phases.
//
// The rendering and parsing here (status comments, request issue bodies,
// commands) are pure; the handlers do their I/O through pkg/forge only.
package bot
