package scan

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func awsTemplate(tokens, hop string, labels model.Labels) *model.NodeConfig {
	set := func(raw string) model.Value { return model.Value{State: model.Set, Raw: raw} }
	return &model.NodeConfig{Cloud: "aws", Kind: "AWS::EC2::LaunchTemplate", Name: "LT", NodeLabels: labels,
		AWS: &model.AWSMetadataOptions{HTTPTokens: set(tokens), HopLimit: set(hop)}}
}

func TestNodeLayerDecide(t *testing.T) {
	group := model.Labels{"eks.amazonaws.com/nodegroup": "general"}
	node := func(name, ng string) *model.Node {
		return &model.Node{Name: name, ProviderID: "aws:///us-east-1a/i-1", Labels: model.Labels{"eks.amazonaws.com/nodegroup": ng}}
	}
	aws := reach.Targets(endpoints.ForClouds(endpoints.AWS))[0]
	shared := reach.Targets(endpoints.ForClouds(endpoints.AWS, endpoints.GCP))[0] // 169.254.169.254 for both
	tests := []struct {
		name     string
		configs  []*model.NodeConfig
		nodes    []*model.Node
		target   reach.Target
		want     reach.Decision
		noAnswer bool
		reason   string
	}{
		{name: "every setting withholds", configs: []*model.NodeConfig{awsTemplate("required", "1", nil)}, target: aws, want: reach.Deny},
		{name: "one setting serves", configs: []*model.NodeConfig{awsTemplate("required", "1", nil), awsTemplate("required", "2", nil)}, target: aws, want: reach.Allow},
		{name: "the described node group", configs: []*model.NodeConfig{awsTemplate("required", "1", group)},
			nodes: []*model.Node{node("a", "general")}, target: aws, want: reach.Deny},
		{name: "a node no setting describes", configs: []*model.NodeConfig{awsTemplate("required", "1", group)},
			nodes: []*model.Node{node("a", "general"), node("b", "gpu")}, target: aws, want: reach.Undecided, reason: "node b"},
		{name: "a target another cloud shares", configs: []*model.NodeConfig{awsTemplate("required", "1", nil)}, target: shared,
			want: reach.Undecided, reason: "no node settings for gcp"},
		{name: "no settings for the target's cloud", configs: []*model.NodeConfig{{Cloud: "gcp", Kind: "google_container_node_pool", Name: "p", GKE: &model.GKEMetadata{}}},
			target: aws, noAnswer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NodeConfigs, inv.Nodes = tt.configs, tt.nodes
			n := newNodeLayer(inv)
			step, ok := n.Decide(&tt.target, false)
			if ok == tt.noAnswer {
				t.Fatalf("answered = %v, want %v (%+v)", ok, !tt.noAnswer, step)
			}
			if tt.noAnswer {
				return
			}
			if step.Decision != tt.want || !strings.Contains(step.Reason, tt.reason) {
				t.Errorf("decision %s (%s), want %s mentioning %q", step.Decision, step.Reason, tt.want, tt.reason)
			}
			if again, _ := n.Decide(&tt.target, false); again.Decision != step.Decision || again.Reason != step.Reason {
				t.Errorf("a second call answered differently: %+v", again)
			}
		})
	}
}
