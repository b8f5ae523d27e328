package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestLegacyEndpointsRule(t *testing.T) {
	pool := func(mode, legacy string) *model.NodeConfig {
		g := &model.GKEMetadata{}
		if mode != "" {
			g.WorkloadMetadataMode = set(mode, 4)
		}
		if legacy != "" {
			g.DisableLegacyEndpoints = set(legacy, 7)
		}
		return &model.NodeConfig{Cloud: "gcp", Kind: "google_container_node_pool", Name: "google_container_node_pool.p", Source: at("gke.tf", 1), GKE: g}
	}
	tests := []struct {
		name string
		cfg  *model.NodeConfig
		want int
	}{
		{"legacy on, GCE metadata", pool("GCE_METADATA", "false"), 1},
		{"legacy off", pool("GCE_METADATA", "true"), 0},
		{"legacy unset (off by default)", pool("GCE_METADATA", ""), 0},
		{"GKE metadata server serves only v1", pool("GKE_METADATA", "false"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			b.inv.NodeConfigs = []*model.NodeConfig{tt.cfg}
			fs := only(b.run(endpoints.GCP), "IMDS-010")
			if len(fs) != tt.want {
				t.Fatalf("%d findings, want %d", len(fs), tt.want)
			}
			if tt.want == 1 && fs[0].Source != at("lt.yaml", 7) {
				t.Errorf("source %v, want the disable-legacy-endpoints line", fs[0].Source)
			}
		})
	}
}
