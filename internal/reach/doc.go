// Package reach decides, for every workload and every metadata endpoint,
// whether the workload's pods can reach the endpoint, following the
// Kubernetes NetworkPolicy semantics exactly, and records the trace of layers
// and rules behind each verdict.
package reach
