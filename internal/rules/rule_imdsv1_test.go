package rules_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestIMDSv1Rule(t *testing.T) {
	group := &model.NodeConfig{Cloud: "aws", Kind: "AWS::EKS::Nodegroup", Name: "Group", Source: at("lt.yaml", 20),
		RefersTo: &model.NodeConfigRef{Kind: "AWS::EC2::LaunchTemplate", Name: "LT", Version: "$Latest"}, AWS: &model.AWSMetadataOptions{}}
	eksctl := &model.NodeConfig{Cloud: "aws", Kind: "eksctl nodeGroup", Name: "ng", Source: at("cluster.yaml", 9),
		AWS: &model.AWSMetadataOptions{EksctlDisableIMDSv1: set("false", 12)}}
	tests := []struct {
		name    string
		configs []*model.NodeConfig
		want    []string // "Kind Name @ line" of each finding
		fix     string
	}{
		{"tokens optional, hop limit 1", []*model.NodeConfig{launchTemplate("LT", "optional", "1")}, []string{"AWS::EC2::LaunchTemplate LT @ 5"}, "HttpTokens: required"},
		{"tokens unset", []*model.NodeConfig{launchTemplate("LT", "", "1")}, []string{"AWS::EC2::LaunchTemplate LT @ 3"}, "HttpTokens: required"},
		{"tokens required, hop limit 2", []*model.NodeConfig{launchTemplate("LT", "required", "2")}, nil, ""},
		{"a node group is reported at its template", []*model.NodeConfig{launchTemplate("LT", "optional", "1"), group}, []string{"AWS::EC2::LaunchTemplate LT @ 5"}, ""},
		{"eksctl disableIMDSv1: false", []*model.NodeConfig{eksctl}, []string{"eksctl nodeGroup ng @ 12"}, "disableIMDSv1: true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			b.inv.NodeConfigs = tt.configs
			fs := only(b.run(endpoints.AWS), "IMDS-011")
			var got []string
			for _, f := range fs {
				got = append(got, f.Object.Kind+" "+f.Object.Name+" @ "+strconv.Itoa(f.Source.Line))
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Fatalf("findings %v, want %v", got, tt.want)
			}
			if tt.fix != "" && !strings.Contains(fs[0].Remediation, tt.fix) {
				t.Errorf("remediation %q, want it to mention %q", fs[0].Remediation, tt.fix)
			}
		})
	}
}

func TestAKSWorkloadIdentityRule(t *testing.T) {
	aks := func(oidc, wi model.Value) *model.NodeConfig {
		return &model.NodeConfig{Cloud: "azure", Kind: "azurerm_kubernetes_cluster", Name: "azurerm_kubernetes_cluster.k",
			Source: at("aks.tf", 1), AKS: &model.AKSIdentity{OIDCIssuerEnabled: oidc, WorkloadIdentityEnabled: wi}}
	}
	unresolved := model.Value{State: model.Unresolved, Why: "var.wi", Source: at("aks.tf", 9)}
	tests := []struct {
		name string
		cfg  *model.NodeConfig
		line int // of the finding; 0 for none
	}{
		{"both on", aks(set("true", 4), set("true", 5)), 0},
		{"both unset", aks(model.Value{}, model.Value{}), 1},
		{"workload identity off", aks(set("true", 4), set("false", 5)), 5},
		{"OIDC issuer off", aks(set("false", 4), set("true", 5)), 4},
		{"unresolved is not reported", aks(set("true", 4), unresolved), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			b.inv.NodeConfigs = []*model.NodeConfig{tt.cfg}
			fs := only(b.run(endpoints.Azure), "IMDS-012")
			switch {
			case tt.line == 0 && len(fs) != 0:
				t.Fatalf("findings %v, want none", fs)
			case tt.line != 0 && (len(fs) != 1 || fs[0].Source.Line != tt.line):
				t.Fatalf("findings %+v, want one at line %d", fs, tt.line)
			}
		})
	}
}
