// Package protection decides what the controller and the admission webhook
// keep in a namespace: whether it is protected, exempt or opted out, and
// which metadata targets its policies must not re-open. Both doors read the
// same Policy, so they never disagree about a namespace.
package protection
