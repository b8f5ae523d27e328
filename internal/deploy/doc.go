// Package deploy checks the manifests under deploy/: the Helm chart and the
// kustomization render, the API server accepts them (server-side dry-run),
// the RBAC is least privilege and enough for the controller, and the
// kustomization's manifests are the chart's defaults. It holds no code of
// the binary.
package deploy
