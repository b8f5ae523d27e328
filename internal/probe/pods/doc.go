// Package pods runs the probe agent in short-lived pods: one per subject (a
// namespace, or a workload whose labels, ServiceAccount and hostNetwork
// setting the pod wears), with a restricted security context and no
// ServiceAccount token. It reads each agent's report from the container's
// termination message and deletes every pod it made, on success, failure,
// deadline and cancellation alike.
package pods
