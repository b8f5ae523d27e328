package endpoints_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		nodes []*model.Node
		want  []endpoints.Cloud
	}{
		{name: "no nodes", nodes: nil, want: nil},
		{name: "aws providerID", nodes: nodes(byProvider("aws:///us-east-1a/i-0123456789abcdef0")), want: clouds(endpoints.AWS)},
		{name: "gce providerID", nodes: nodes(byProvider("gce://my-project/europe-west1-b/gke-pool-1")), want: clouds(endpoints.GCP)},
		{name: "azure providerID", nodes: nodes(byProvider("azure:///subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachineScaleSets/z/virtualMachines/0")), want: clouds(endpoints.Azure)},
		{name: "alicloud providerID", nodes: nodes(byProvider("alicloud://cn-hangzhou.i-abc")), want: clouds(endpoints.Alibaba)},
		{name: "oci providerID", nodes: nodes(byProvider("oci://ocid1.instance.oc1.iad.abc")), want: clouds(endpoints.Oracle)},
		{name: "openstack providerID", nodes: nodes(byProvider("openstack:///6f1b0c2e-1234")), want: clouds(endpoints.OpenStack)},
		{name: "digitalocean providerID", nodes: nodes(byProvider("digitalocean://123456")), want: clouds(endpoints.DigitalOcean)},
		{name: "kind providerID says no cloud", nodes: nodes(byProvider("kind://docker/kind/kind-control-plane")), want: nil},
		{name: "providerID prefix must lead", nodes: nodes(byProvider("fake-aws://x")), want: nil},
		{name: "eks label", nodes: nodes(byLabel("eks.amazonaws.com/nodegroup")), want: clouds(endpoints.AWS)},
		{name: "gke label", nodes: nodes(byLabel("cloud.google.com/gke-nodepool")), want: clouds(endpoints.GCP)},
		{name: "aks label", nodes: nodes(byLabel("kubernetes.azure.com/cluster")), want: clouds(endpoints.Azure)},
		{name: "doks label", nodes: nodes(byLabel("doks.digitalocean.com/node-pool")), want: clouds(endpoints.DigitalOcean)},
		{name: "generic topology labels say no cloud", nodes: nodes(byLabel("topology.kubernetes.io/zone"), byLabel("kubernetes.io/hostname")), want: nil},
		{
			name:  "providerID and label of the same cloud count once",
			nodes: nodes(&model.Node{Name: "n", ProviderID: "aws:///a/i-1", Labels: model.Labels{"eks.amazonaws.com/nodegroup": "ng"}}),
			want:  clouds(endpoints.AWS),
		},
		{
			name:  "mixed cluster, sorted by name",
			nodes: nodes(byProvider("gce://p/z/n"), byLabel("kubernetes.azure.com/cluster"), byProvider("aws:///a/i-1"), byProvider("gce://p/z/m")),
			want:  clouds(endpoints.AWS, endpoints.Azure, endpoints.GCP),
		},
		{
			name:  "nodes without provider or labels are ignored beside one that says",
			nodes: nodes(&model.Node{Name: "bare"}, byProvider("alicloud://x")),
			want:  clouds(endpoints.Alibaba),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(endpoints.Detect(tt.nodes), tt.want); diff != "" {
				t.Errorf("Detect() (-got +want):\n%s", diff)
			}
		})
	}
}

func nodes(ns ...*model.Node) []*model.Node { return ns }

func clouds(cs ...endpoints.Cloud) []endpoints.Cloud { return cs }

func byProvider(id string) *model.Node { return &model.Node{Name: "node", ProviderID: id} }

func byLabel(key string) *model.Node {
	return &model.Node{Name: "node", Labels: model.Labels{key: "x"}}
}
