package endpoints

import (
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

var providerPrefixes = map[string]Cloud{
	"aws://":          AWS,
	"gce://":          GCP,
	"azure://":        Azure,
	"alicloud://":     Alibaba,
	"oci://":          Oracle,
	"openstack://":    OpenStack,
	"digitalocean://": DigitalOcean,
}

var labelPrefixes = map[string]Cloud{
	"eks.amazonaws.com/":                 AWS,
	"cloud.google.com/gke-":              GCP,
	"kubernetes.azure.com/":              Azure,
	"alibabacloud.com/":                  Alibaba,
	"oci.oraclecloud.com/":               Oracle,
	"doks.digitalocean.com/":             DigitalOcean,
	"node.openstack.org/":                OpenStack,
	"topology.cinder.csi.openstack.org/": OpenStack,
}

// Detect returns the clouds that the nodes say they run on, from providerID
// and well-known labels. It returns nil when no node says.
func Detect(nodes []*model.Node) []Cloud {
	found := map[Cloud]bool{}
	for _, n := range nodes {
		for p, c := range providerPrefixes {
			if strings.HasPrefix(n.ProviderID, p) {
				found[c] = true
			}
		}
		for k := range n.Labels {
			for p, c := range labelPrefixes {
				if strings.HasPrefix(k, p) {
					found[c] = true
				}
			}
		}
	}
	var out []Cloud
	for c := range found {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
