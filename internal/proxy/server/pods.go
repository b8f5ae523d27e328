package server

import "net/netip"

// Pod is what the proxy knows of the pod behind a source address.
type Pod struct {
	Namespace, Name      string
	UID                  string
	Annotations          map[string]string
	NamespaceAnnotations map[string]string
}

// Pods finds the pod that owns a source address.
type Pods interface {
	PodByIP(ip netip.Addr) (Pod, bool)
}

// PodsFunc adapts a function to Pods.
type PodsFunc func(ip netip.Addr) (Pod, bool)

// PodByIP calls f.
func (f PodsFunc) PodByIP(ip netip.Addr) (Pod, bool) { return f(ip) }

var _ Pods = PodsFunc(nil)

// noPods knows no pod: every request gets the default allowance.
var noPods = PodsFunc(func(netip.Addr) (Pod, bool) { return Pod{}, false })
