package rules_test

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func set(raw string, line int) model.Value {
	return model.Value{State: model.Set, Raw: raw, Source: at("lt.yaml", line)}
}

func launchTemplate(name, tokens, hop string) *model.NodeConfig {
	o := &model.AWSMetadataOptions{}
	if tokens != "" {
		o.HTTPTokens = set(tokens, 5)
	}
	switch hop {
	case "":
	case "unresolved":
		o.HopLimit = model.Value{State: model.Unresolved, Why: "parameter Hop has no default", Source: at("lt.yaml", 6)}
	default:
		o.HopLimit = set(hop, 6)
	}
	return &model.NodeConfig{Cloud: "aws", Kind: "AWS::EC2::LaunchTemplate", Name: name, Source: at("lt.yaml", 3), AWS: o}
}

func TestNodeSettingsRule(t *testing.T) {
	group := &model.NodeConfig{Cloud: "aws", Kind: "AWS::EKS::Nodegroup", Name: "Group", Source: at("lt.yaml", 20),
		RefersTo: &model.NodeConfigRef{Kind: "AWS::EC2::LaunchTemplate", Name: "LT", Version: "$Latest"}, AWS: &model.AWSMetadataOptions{}}
	tests := []struct {
		name    string
		configs []*model.NodeConfig
		want    []string // "Kind Name" of each finding
		fix     string   // a piece of the first finding's remediation
	}{
		{"hop limit 2", []*model.NodeConfig{launchTemplate("LT", "required", "2")}, []string{"AWS::EC2::LaunchTemplate LT"}, "HttpPutResponseHopLimit: 1"},
		{"IMDSv1 on", []*model.NodeConfig{launchTemplate("LT", "optional", "1")}, []string{"AWS::EC2::LaunchTemplate LT"}, "HttpTokens: required"},
		{"closed", []*model.NodeConfig{launchTemplate("LT", "required", "1")}, nil, ""},
		{"unresolved hop limit is not a finding", []*model.NodeConfig{launchTemplate("LT", "required", "unresolved")}, nil, ""},
		{"node group reported through its template", []*model.NodeConfig{launchTemplate("LT", "required", "2"), group}, []string{"AWS::EC2::LaunchTemplate LT"}, ""},
		{"azure has no node setting to fix", []*model.NodeConfig{{Cloud: "azure", Kind: "azurerm_kubernetes_cluster", Name: "aks", AKS: &model.AKSIdentity{}}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			b.inv.NodeConfigs = tt.configs
			fs := only(b.run(endpoints.AWS), "IMDS-008")
			var got []string
			for _, f := range fs {
				got = append(got, f.Object.Kind+" "+f.Object.Name)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("findings %q, want %q", got, tt.want)
			}
			if tt.fix != "" && !strings.Contains(fs[0].Remediation, tt.fix) {
				t.Errorf("remediation %q does not contain %q", fs[0].Remediation, tt.fix)
			}
		})
	}
}
