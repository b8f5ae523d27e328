// Package nodesettings decides what a node's own metadata settings let a pod
// obtain from the node's metadata service: the AWS IMDS options (with
// eksctl's defaults), the GKE workload metadata mode and the AKS identity
// settings. It is pure: it reads model.NodeConfigs and never does I/O.
//
// The rules, each with its source, are written down in docs/node-settings.md.
// A value that could decide the answer but is unresolved, pending or of
// undocumented default makes the verdict Unknown, never CredentialsWithheld.
package nodesettings
