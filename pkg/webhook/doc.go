// Package webhook is the HTTP intake for GitHub webhook deliveries.
//
// A Handler authenticates a delivery, hands it to a durable Store and answers
// GitHub only once the Store has it: nothing is processed while the request is
// open, so the answer comes in milliseconds and a crash after the answer loses
// nothing. The work happens later, in jobs (package jobs implements Store).
//
// Rules, in the order they are applied:
//
//   - Only POST (405 otherwise).
//   - X-Hub-Signature-256 must be present and well formed ("sha256=" and 64
//     hex digits); the SHA-1 X-Hub-Signature is ignored, so a delivery that
//     carries only that is rejected (401).
//   - The body may not exceed MaxBodyBytes, 25 MiB by default like GitHub's own
//     cap (413). A declared Content-Length over the limit is refused before a
//     byte is read; a chunked body is cut off at the limit.
//   - Until the signature is checked the sender is anonymous, so what it can
//     make the handler hold is bounded: at most MaxConcurrentReads bodies
//     are read at once, their buffers take at most MaxPendingBytes together,
//     and a buffer grows with the bytes that arrive, never to a declared
//     Content-Length. A request that waits ReadWait for either gets 503
//     (GitHub counts the delivery failed; it can be redelivered). The HTTP
//     server adds header, read and idle timeouts (package server).
//   - The HMAC-SHA256 of the body must match one of the configured secrets,
//     compared in constant time (401). Two secrets may be configured at once so
//     that the webhook secret can be rotated without dropping deliveries.
//   - X-GitHub-Delivery and X-GitHub-Event are required and must look like
//     GitHub's (400): every event name GitHub sends is accepted, such as
//     projects_v2_item.
//   - The payload must be a JSON object: the body itself, or its "payload"
//     field for application/x-www-form-urlencoded deliveries (400).
//   - The Store records the delivery, deduplicated by delivery id. A new
//     delivery is answered 202, a replay 200 "duplicate"; a Store failure 503,
//     so that the delivery counts as failed at GitHub and can be redelivered.
//     A ping, or an event and action that Config.Handles (the bot's list)
//     does not name, is marked NoOp: the Store keeps its id, not its
//     payload, and runs no job for it.
//
// There is no handler without a secret: NewHandler refuses to build one
// (fail closed). Logs carry the delivery id, event, action and repository, never
// the payload or a secret. Metrics are reported per event and Outcome; the event
// label is only taken from the request once its signature has been verified,
// so unauthenticated callers cannot invent label values.
package webhook
