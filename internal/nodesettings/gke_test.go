package nodesettings

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func gkeConfig(g model.GKEMetadata) *model.NodeConfig {
	return &model.NodeConfig{Cloud: "gcp", Kind: "google_container_node_pool", Name: "p", Source: at(1), GKE: &g}
}

func TestEvaluateGKE(t *testing.T) {
	pool := set("my-project.svc.id.goog", 8)
	tests := []struct {
		name   string
		g      model.GKEMetadata
		class  Class
		family Family
		want   Verdict
		legacy Toggle
		reason string
	}{
		{name: "GKE_METADATA withholds from pods", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA", 24), WorkloadPool: pool}, want: CredentialsWithheld, legacy: Off, reason: "own workload identity"},
		{name: "GKE_METADATA_SERVER withholds from pods", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA_SERVER", 24)}, want: CredentialsWithheld, legacy: Off},
		{name: "GKE_METADATA serves hostNetwork", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA", 24), WorkloadPool: pool}, class: HostNetwork, want: CredentialsServed, legacy: Off, reason: "hostNetwork"},
		{name: "GKE_METADATA legacy open reaches hostNetwork", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA", 24), DisableLegacyEndpoints: set("false", 20)}, class: HostNetwork, want: CredentialsServed, legacy: On, reason: "Metadata-Flavor"},
		{name: "GKE_METADATA legacy open does not reach pods", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA", 24), DisableLegacyEndpoints: set("false", 20)}, want: CredentialsWithheld, legacy: Off},
		{name: "GCE_METADATA serves pods", g: model.GKEMetadata{WorkloadMetadataMode: set("GCE_METADATA", 35), WorkloadPool: pool}, want: CredentialsServed, legacy: Off},
		{name: "EXPOSE serves pods with legacy open", g: model.GKEMetadata{WorkloadMetadataMode: set("EXPOSE", 35), DisableLegacyEndpoints: set("false", 20)}, want: CredentialsServed, legacy: On, reason: "v1beta1"},
		{name: "SECURE still serves the node token", g: model.GKEMetadata{WorkloadMetadataMode: set("SECURE", 17)}, want: CredentialsServed, legacy: Off, reason: "kube-env"},
		{name: "unset without workload pool serves", g: model.GKEMetadata{WorkloadMetadataMode: unsetAt(1), WorkloadPool: unsetAt(1)}, want: CredentialsServed, legacy: Off, reason: "no workload pool"},
		{name: "MODE_UNSPECIFIED without workload pool serves", g: model.GKEMetadata{WorkloadMetadataMode: set("MODE_UNSPECIFIED", 4)}, want: CredentialsServed, legacy: Off},
		{name: "unset with workload pool is unknown", g: model.GKEMetadata{WorkloadPool: pool}, want: Unknown, legacy: Off, reason: "defaults to GKE_METADATA"},
		{name: "unset with unresolved workload pool is unknown", g: model.GKEMetadata{WorkloadPool: unres("cluster not read", 43)}, want: Unknown, legacy: Off, reason: "cluster not read"},
		{name: "unset with workload pool serves hostNetwork", g: model.GKEMetadata{WorkloadPool: pool}, class: HostNetwork, want: CredentialsServed, legacy: Off},
		{name: "mode unresolved is unknown", g: model.GKEMetadata{WorkloadMetadataMode: unres("var.mode", 24)}, want: Unknown, legacy: Off, reason: "var.mode"},
		{name: "unknown mode is unknown", g: model.GKEMetadata{WorkloadMetadataMode: set("FOO", 24)}, want: Unknown, legacy: Off},
		{name: "legacy unresolved is undetermined", g: model.GKEMetadata{WorkloadMetadataMode: set("GCE_METADATA", 24), DisableLegacyEndpoints: unres("var.x", 20)}, want: CredentialsServed, legacy: Undetermined},
		{name: "legacy true is off", g: model.GKEMetadata{WorkloadMetadataMode: set("GCE_METADATA", 24), DisableLegacyEndpoints: set("true", 20)}, want: CredentialsServed, legacy: Off},
		{name: "IPv6 is unknown", g: model.GKEMetadata{WorkloadMetadataMode: set("GKE_METADATA", 24)}, family: IPv6, want: Unknown, legacy: Off},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(gkeConfig(tt.g), tt.class, tt.family)
			if got.Verdict != tt.want || got.LegacyEndpoints != tt.legacy {
				t.Fatalf("got %v, legacy %v, want %v, legacy %v (reason %q)", got.Verdict, got.LegacyEndpoints, tt.want, tt.legacy, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tt.reason)
			}
			if got.LegacyEndpointsOpen() != (tt.legacy != Off) {
				t.Errorf("LegacyEndpointsOpen() = %v with %v", got.LegacyEndpointsOpen(), tt.legacy)
			}
		})
	}
}

func TestEvaluateAKS(t *testing.T) {
	tests := []struct {
		name     string
		a        model.AKSIdentity
		class    Class
		identity Toggle
		reason   string
	}{
		{name: "workload identity on", a: model.AKSIdentity{OIDCIssuerEnabled: set("true", 11), WorkloadIdentityEnabled: set("true", 12)}, identity: On, reason: "does not take the node's identity away"},
		{name: "workload identity on, hostNetwork", a: model.AKSIdentity{OIDCIssuerEnabled: set("true", 11), WorkloadIdentityEnabled: set("true", 12)}, class: HostNetwork, identity: On},
		{name: "bare cluster", a: model.AKSIdentity{OIDCIssuerEnabled: unsetAt(21), WorkloadIdentityEnabled: unsetAt(21)}, identity: Off},
		{name: "workload identity without OIDC issuer", a: model.AKSIdentity{OIDCIssuerEnabled: set("false", 11), WorkloadIdentityEnabled: set("true", 12)}, identity: Off},
		{name: "unresolved", a: model.AKSIdentity{OIDCIssuerEnabled: set("true", 11), WorkloadIdentityEnabled: unres("var.wi", 12)}, identity: Undetermined, reason: "not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &model.NodeConfig{Cloud: "azure", Kind: "azurerm_kubernetes_cluster", Name: "c", AKS: &tt.a}
			got := Evaluate(cfg, tt.class, IPv4)
			if got.Verdict != CredentialsServed || got.WorkloadIdentity != tt.identity {
				t.Fatalf("got %v, workload identity %v, want served, %v", got.Verdict, got.WorkloadIdentity, tt.identity)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestLegacyEndpointsMayBeOpen(t *testing.T) {
	g := model.GKEMetadata{WorkloadMetadataMode: unres("var.mode", 24), DisableLegacyEndpoints: set("false", 20)}
	if got := Evaluate(gkeConfig(g), PodNetwork, IPv4); got.LegacyEndpoints != Undetermined {
		t.Errorf("legacy = %v, want undetermined when the pod may reach the Compute Engine server", got.LegacyEndpoints)
	}
}
