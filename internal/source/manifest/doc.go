// Package manifest loads Kubernetes manifests (YAML or JSON files,
// directories and stdin) into a model.Inventory. It reads hostile input in
// bounded memory, reports every problem with its file and line, and marks the
// scopes it could not understand as incomplete instead of skipping them.
package manifest
