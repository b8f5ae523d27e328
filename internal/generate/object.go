// Package generate builds the mitigations for what a scan found: NetworkPolicies
// for unprotected namespaces, patches for policies that re-open metadata,
// cluster-wide policies, admission policies, detection rules and node
// settings. Every builder is pure: it returns objects, and the caller decides
// where they go (stdout, a directory, or the API server).
package generate

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Group is a family of generated artifacts, selectable with --include.
type Group string

// The groups, in output order.
const (
	// GroupNamespace holds one NetworkPolicy per unprotected namespace.
	GroupNamespace Group = "namespace"
	// GroupPatch holds existing NetworkPolicies that re-open metadata, patched.
	GroupPatch Group = "patch"
	// GroupCluster holds cluster-wide policies (AdminNetworkPolicy, Cilium, Calico).
	GroupCluster Group = "cluster"
	// GroupAdmission holds admission policies that reject hostNetwork pods.
	GroupAdmission Group = "admission"
	// GroupDetection holds runtime detection rules (Falco).
	GroupDetection Group = "detection"
	// GroupNode holds node-setting fixes in the language of their source.
	GroupNode Group = "node"
)

// Groups lists every group in output order.
var Groups = []Group{GroupNamespace, GroupPatch, GroupCluster, GroupAdmission, GroupDetection, GroupNode}

// Artifact is one generated thing: either a Kubernetes object (Object set)
// or a file that is not one (Raw set), such as Falco rules or a Terraform
// snippet.
type Artifact struct {
	Group Group
	// File is the artifact's path relative to an output directory,
	// e.g. "namespace/apps.yaml"; unique within a Set.
	File string
	// Object is the Kubernetes object, with its apiVersion, kind and metadata.
	Object *unstructured.Unstructured
	// Raw is the content of a non-object artifact.
	Raw []byte
	// Why is one or two sentences on what the artifact closes, written above
	// it as a comment where the format allows.
	Why string
}

// IsObject reports whether the artifact is a Kubernetes object.
func (a *Artifact) IsObject() bool { return a.Object != nil }
