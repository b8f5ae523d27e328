// Package kube loads a live cluster into a model.Inventory through the
// Kubernetes API: paginated lists of workloads, Pods, Namespaces,
// NetworkPolicies, ServiceAccounts, Nodes and the policy CRDs the engine
// knows of. It mirrors the manifest loader: a list the RBAC forbids is an
// input error, and the scope it leaves unread is marked incomplete so that
// no verdict there can be Blocked.
package kube
