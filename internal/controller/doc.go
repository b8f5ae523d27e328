// Package controller keeps every namespace protected from the cloud
// metadata service in a running cluster: a controller-runtime reconciler
// per Namespace keeps the protection NetworkPolicies that the generator
// makes, restores them when they are deleted or edited, honours audited
// opt-outs, and reports (never edits) policies that re-open metadata.
package controller
