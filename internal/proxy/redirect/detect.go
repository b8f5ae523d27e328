package redirect

import (
	"net"
	"strings"
)

// podInterfacePrefixes are the host-side names that CNIs give pods'
// interfaces, in the order they are tried.
var podInterfacePrefixes = []struct{ prefix, cni string }{
	{"eni", "AWS VPC CNI"},
	{"azv", "Azure CNI"},
	{"cali", "Calico"},
	{"lxc", "Cilium"},
	{"gke", "GKE"},
	{"veth", "bridge CNIs: kindnet, flannel, the CNI bridge plugin"},
}

// KnownPodInterfacePrefixes lists the prefixes DetectPodInterfaces knows,
// for messages.
func KnownPodInterfacePrefixes() []string {
	out := make([]string, len(podInterfacePrefixes))
	for i, p := range podInterfacePrefixes {
		out[i] = p.prefix + "*"
	}
	return out
}

// DetectPodInterfaces returns, for each known CNI naming scheme that one of
// the host's interface names follows, its prefix pattern ("cali*"). A
// prefix also covers the pods' interfaces created after the detection. A
// CNI whose names are not known gives nothing: the caller must then be
// told the pods' CIDRs or interfaces.
func DetectPodInterfaces(names []string) []string {
	var out []string
	for _, p := range podInterfacePrefixes {
		for _, n := range names {
			if len(n) > len(p.prefix) && strings.HasPrefix(n, p.prefix) {
				out = append(out, p.prefix+"*")
				break
			}
		}
	}
	return out
}

// HostInterfaces returns the names of this network namespace's interfaces.
func HostInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ifs))
	for i, x := range ifs {
		names[i] = x.Name
	}
	return names, nil
}
