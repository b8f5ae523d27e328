package scan

import (
	"context"
	"os"
	"path/filepath"
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
			pod := &model.PodTemplate{}
			step, ok := n.Decide(&tt.target, pod)
			if ok == tt.noAnswer {
				t.Fatalf("answered = %v, want %v (%+v)", ok, !tt.noAnswer, step)
			}
			if tt.noAnswer {
				return
			}
			if step.Decision != tt.want || !strings.Contains(step.Reason, tt.reason) {
				t.Errorf("decision %s (%s), want %s mentioning %q", step.Decision, step.Reason, tt.want, tt.reason)
			}
			if again, _ := n.Decide(&tt.target, pod); again.Decision != step.Decision || again.Reason != step.Reason {
				t.Errorf("a second call answered differently: %+v", again)
			}
		})
	}
}

// TestNodeLayerPlacement checks that a pod is judged by the node settings
// its node selector and required affinity leave, and by all of them when
// that cannot be decided.
func TestNodeLayerPlacement(t *testing.T) {
	const ng = "eks.amazonaws.com/nodegroup"
	group := func(name, hop string) *model.NodeConfig {
		c := awsTemplate("required", hop, model.Labels{ng: name})
		c.Kind, c.Name = "AWS::EKS::Nodegroup", name
		return c
	}
	secure, general := group("secure", "1"), group("general", "2")
	unresolved := &model.NodeConfig{Cloud: "aws", Kind: "aws_eks_node_group", Name: "x", NodeLabels: model.Labels{ng: "x"},
		AWS: &model.AWSMetadataOptions{}, RefersTo: &model.NodeConfigRef{Kind: "aws_launch_template", Name: "missing", Version: "$Latest"}}
	unlabelled := awsTemplate("required", "2", nil)
	pinned := model.PodTemplate{NodeSelector: model.Labels{ng: "secure"}}
	byAffinity := model.PodTemplate{NodeAffinity: []model.NodeSelectorTerm{{MatchExpressions: []model.Requirement{
		{Key: ng, Operator: "NotIn", Values: []string{"general", "x"}}}}}}
	unstated := model.PodTemplate{NodeSelector: model.Labels{"topology.kubernetes.io/zone": "a"}}
	node := func(name, group string) *model.Node {
		return &model.Node{Name: name, ProviderID: "aws:///us-east-1a/i-1", Labels: model.Labels{ng: group}}
	}
	aws := reach.Targets(endpoints.ForClouds(endpoints.AWS))[0]
	tests := []struct {
		name    string
		configs []*model.NodeConfig
		nodes   []*model.Node
		pod     model.PodTemplate
		want    reach.Decision
		reason  string
	}{
		{"pinned to the group that withholds", []*model.NodeConfig{secure, general}, nil, pinned, reach.Deny, "leave only AWS::EKS::Nodegroup secure"},
		{"not pinned: the worst case", []*model.NodeConfig{secure, general}, nil, model.PodTemplate{}, reach.Allow, "general"},
		{"pinned by affinity", []*model.NodeConfig{secure, general, unresolved}, nil, byAffinity, reach.Deny, "secure"},
		{"pinned by a label no setting states", []*model.NodeConfig{secure, general}, nil, unstated, reach.Allow, "general"},
		{"pinned to a group not read", []*model.NodeConfig{secure, general}, nil, model.PodTemplate{NodeSelector: model.Labels{ng: "gpu"}},
			reach.Undecided, "rules out every aws node setting"},
		{"a setting without labels is never ruled out", []*model.NodeConfig{secure, unlabelled}, nil, pinned, reach.Allow, "LaunchTemplate LT"},
		{"an unresolved group it cannot run on", []*model.NodeConfig{secure, unresolved}, nil, pinned, reach.Deny, ""},
		{"an unresolved group it may run on", []*model.NodeConfig{secure, unresolved}, nil, model.PodTemplate{}, reach.Undecided, "missing"},
		{"a node no setting describes, ruled out", []*model.NodeConfig{secure}, []*model.Node{node("a", "secure"), node("b", "gpu")}, pinned, reach.Deny, ""},
		{"a node no setting describes, not ruled out", []*model.NodeConfig{secure}, []*model.Node{node("a", "secure"), node("b", "gpu")}, model.PodTemplate{}, reach.Undecided, "node b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NodeConfigs, inv.Nodes = tt.configs, tt.nodes
			step, ok := newNodeLayer(inv).Decide(&aws, &tt.pod)
			if !ok || step.Decision != tt.want || !strings.Contains(step.Reason, tt.reason) {
				t.Errorf("decision %s (%s), answered %t; want %s mentioning %q", step.Decision, step.Reason, ok, tt.want, tt.reason)
			}
		})
	}
}

// TestNodeLayerTemplateOfReferrers checks that a launch template that a
// node setting in the input resolves to stands for no nodes of its own: an
// instance that overrides the template's hop limit decides alone, while a
// template nothing refers to still counts.
func TestNodeLayerTemplateOfReferrers(t *testing.T) {
	set := func(raw string) model.Value { return model.Value{State: model.Set, Raw: raw} }
	lt := &model.NodeConfig{Cloud: "aws", Kind: "aws_launch_template", Name: "aws_launch_template.nodes",
		AWS: &model.AWSMetadataOptions{HTTPTokens: set("required"), HopLimit: set("2")}}
	instance := &model.NodeConfig{Cloud: "aws", Kind: "aws_instance", Name: "aws_instance.node",
		AWS:      &model.AWSMetadataOptions{HopLimit: set("1")},
		RefersTo: &model.NodeConfigRef{Kind: "aws_launch_template", Name: "aws_launch_template.nodes", Version: "$Latest"}}
	aws := reach.Targets(endpoints.ForClouds(endpoints.AWS))[0]
	for _, tt := range []struct {
		configs []*model.NodeConfig
		want    reach.Decision
	}{
		{[]*model.NodeConfig{lt, instance}, reach.Deny},
		{[]*model.NodeConfig{lt}, reach.Allow},
	} {
		inv := model.NewInventory()
		inv.NodeConfigs = tt.configs
		if step, _ := newNodeLayer(inv).Decide(&aws, &model.PodTemplate{}); step.Decision != tt.want {
			t.Errorf("%d settings: %s (%s), want %s", len(tt.configs), step.Decision, step.Reason, tt.want)
		}
	}
}

// TestNodeLayerGaps checks that node settings that could not be read keep
// the layer from withholding: the one not read may serve.
func TestNodeLayerGaps(t *testing.T) {
	inv := model.NewInventory()
	inv.NodeConfigs = []*model.NodeConfig{awsTemplate("required", "1", nil)}
	aws := reach.Targets(endpoints.ForClouds(endpoints.AWS))[0]
	if step, _ := newNodeLayer(inv).Decide(&aws, &model.PodTemplate{}); step.Decision != reach.Deny {
		t.Fatalf("without gaps: %s (%s)", step.Decision, step.Reason)
	}
	inv.NodeConfigGaps = []string{"general.tf:3: Argument or block definition required", "x.tf.json: not supported"}
	step, _ := newNodeLayer(inv).Decide(&aws, &model.PodTemplate{})
	if step.Decision != reach.Undecided || !strings.Contains(step.Reason, "general.tf:3") || !strings.Contains(step.Reason, "1 more") {
		t.Errorf("with gaps: %s (%s)", step.Decision, step.Reason)
	}
}

// TestTerraformJSONIsRead checks that a .tf.json file, named or met in a
// directory, is read as Terraform and not as a manifest.
func TestTerraformJSONIsRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nodes.tf.json")
	if err := os.WriteFile(file, []byte(`{"resource": {"aws_launch_template": {"lt": {}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, file} {
		res, err := Run(context.Background(), Options{Paths: []string{path}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.InputErrors) != 0 || len(res.Inventory.NodeConfigs) != 1 || res.Inventory.NodeConfigs[0].Source.File != file {
			t.Errorf("%s: input errors %v, %d node settings", path, res.InputErrors, len(res.Inventory.NodeConfigs))
		}
	}
}
