package model

import (
	"fmt"
	"strconv"
)

// Source says where an object or a field was read: a file and line for
// manifests, or a cluster object reference for live scans.
type Source struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Cluster names the kubeconfig context for objects read from a live cluster.
	Cluster string `json:"cluster,omitempty"`
}

// String renders the source as "file:line", or the cluster name.
func (s Source) String() string {
	switch {
	case s.File != "" && s.Line > 0:
		return s.File + ":" + strconv.Itoa(s.Line)
	case s.File != "":
		return s.File
	case s.Cluster != "":
		return "cluster " + s.Cluster
	}
	return "<unknown>"
}

// At returns a copy of s pointing at another line of the same file.
func (s Source) At(line int) Source {
	s.Line = line
	return s
}

// ObjectRef identifies a Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String renders the reference as "kind namespace/name" (or "kind name" for
// cluster-scoped objects), the form used in every message.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
}

// Key renders the reference as "namespace/kind/name", the form accepted by
// `imdsguard explain`.
func (r ObjectRef) Key() string {
	return r.Namespace + "/" + r.Kind + "/" + r.Name
}
