// Package proxy is the policy of the node metadata proxy: it puts a request
// for the instance metadata service into one canonical form and decides,
// without any networking, whether a pod may have it and which rule says so.
package proxy
