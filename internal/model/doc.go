// Package model holds the neutral objects that every loader produces and every
// engine consumes: namespaces, workloads, network policies and nodes, each
// remembering where it came from.
package model
