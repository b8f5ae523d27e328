// Package server is the metadata proxy's HTTP side: it identifies the pod
// behind a request, asks the policy of package proxy, forwards what is
// allowed to the real metadata service and refuses the rest with a
// response the probe can recognise, a log event and a metric.
package server
