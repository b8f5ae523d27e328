package nodesettings

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func TestEvaluateAWS(t *testing.T) {
	lt := "aws_launch_template"
	tests := []struct {
		name   string
		kind   string
		opts   model.AWSMetadataOptions
		class  Class
		family Family
		want   Verdict
		reason string // a substring of the reason
	}{
		{name: "endpoint disabled withholds from pods", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: set("disabled", 3), HTTPTokens: set("optional", 4)}, want: CredentialsWithheld, reason: "http_endpoint = disabled"},
		{name: "endpoint disabled withholds from hostNetwork", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: set("disabled", 3)}, class: HostNetwork, want: CredentialsWithheld},
		{name: "endpoint disabled withholds IPv6", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: set("disabled", 3), HTTPProtocolIPv6: set("enabled", 5)}, family: IPv6, want: CredentialsWithheld},
		{name: "tokens unset serve IMDSv1", kind: lt, want: CredentialsServed, reason: "IMDSv1"},
		{name: "tokens optional serve IMDSv1 despite hop 1", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("optional", 4), HopLimit: set("1", 5)}, want: CredentialsServed, reason: "hop limit only limits"},
		{name: "tokens optional serve hostNetwork", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("optional", 4)}, class: HostNetwork, want: CredentialsServed},
		{name: "required hop 1 withholds from pods", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, want: CredentialsWithheld, reason: "hop limit 1"},
		{name: "required hop 1 serves hostNetwork", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, class: HostNetwork, want: CredentialsServed, reason: "network namespace"},
		{name: "required hop 2 serves pods", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("2", 5)}, want: CredentialsServed, reason: "hop limit 2"},
		{name: "required hop 64 serves pods", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("64", 5)}, want: CredentialsServed},
		{name: "required hop unset is unknown", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4)}, want: Unknown, reason: "depends on the AMI"},
		{name: "required hop unresolved is unknown", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: unres("var.hop has no value", 5)}, want: Unknown, reason: "var.hop has no value"},
		{name: "required hop out of range is unknown", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("0", 5)}, want: Unknown, reason: "not a number from 1 to 64"},
		{name: "tokens unresolved hop 1 is unknown for pods", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: unres("var.tokens", 4), HopLimit: set("1", 5)}, want: Unknown, reason: "var.tokens"},
		{name: "tokens unresolved serve hostNetwork either way", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: unres("var.tokens", 4)}, class: HostNetwork, want: CredentialsServed},
		{name: "tokens unresolved hop 2 serve pods either way", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: unres("var.tokens", 4), HopLimit: set("2", 5)}, want: CredentialsServed},
		{name: "tokens of unknown value", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("Required", 4)}, want: Unknown, reason: "not a value AWS accepts"},
		{name: "endpoint unresolved over a served rest is unknown", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: unres("timestamp()", 3)}, want: Unknown, reason: "timestamp()"},
		{name: "endpoint unresolved over a withheld rest withholds", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: unres("timestamp()", 3), HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, want: CredentialsWithheld},
		{name: "endpoint enabled decides nothing", kind: lt, opts: model.AWSMetadataOptions{HTTPEndpoint: set("enabled", 3), HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, want: CredentialsWithheld},
		{name: "state pending is unknown", kind: "ec2 describe-instances", opts: model.AWSMetadataOptions{State: set("pending", 2), HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, want: Unknown, reason: "pending"},
		{name: "state pending is unknown even when disabled", kind: "ec2 describe-instances", opts: model.AWSMetadataOptions{State: set("pending", 2), HTTPEndpoint: set("disabled", 3)}, want: Unknown},
		{name: "state applied decides nothing", kind: "ec2 describe-instances", opts: model.AWSMetadataOptions{State: set("applied", 2), HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, want: CredentialsWithheld},
		{name: "IPv6 unset is withheld", kind: lt, opts: model.AWSMetadataOptions{HTTPTokens: set("optional", 4)}, family: IPv6, want: CredentialsWithheld, reason: "default is disabled"},
		{name: "IPv6 disabled is withheld", kind: lt, opts: model.AWSMetadataOptions{HTTPProtocolIPv6: set("disabled", 6)}, family: IPv6, class: HostNetwork, want: CredentialsWithheld},
		{name: "IPv6 enabled serves as IPv4", kind: lt, opts: model.AWSMetadataOptions{HTTPProtocolIPv6: set("enabled", 6)}, family: IPv6, want: CredentialsServed, reason: "fd00:ec2::254"},
		{name: "IPv6 enabled withholds as IPv4", kind: lt, opts: model.AWSMetadataOptions{HTTPProtocolIPv6: set("enabled", 6), HTTPTokens: set("required", 4), HopLimit: set("1", 5)}, family: IPv6, want: CredentialsWithheld},
		{name: "IPv6 unresolved is unknown", kind: lt, opts: model.AWSMetadataOptions{HTTPProtocolIPv6: unres("local.a", 6)}, family: IPv6, want: Unknown, reason: "local.a"},
		{name: "IPv6 unresolved does not matter for IPv4", kind: lt, opts: model.AWSMetadataOptions{HTTPProtocolIPv6: unres("local.a", 6)}, want: CredentialsServed},
		{name: "eksctl defaults: required, hop 2, pods served", kind: eksctlNodeGroupKind, want: CredentialsServed, reason: "disableIMDSv1 unset (default true)"},
		{name: "eksctl disablePodIMDS withholds from pods", kind: eksctlManagedNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisablePodIMDS: set("true", 7)}, want: CredentialsWithheld, reason: "hop limit 1"},
		{name: "eksctl disablePodIMDS serves hostNetwork", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisablePodIMDS: set("true", 7)}, class: HostNetwork, want: CredentialsServed},
		{name: "eksctl disablePodIMDS with disableIMDSv1 false still required", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisablePodIMDS: set("true", 7), EksctlDisableIMDSv1: set("false", 8)}, want: CredentialsWithheld},
		{name: "eksctl disableIMDSv1 false serves IMDSv1", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisableIMDSv1: set("false", 8)}, want: CredentialsServed, reason: "http_tokens = optional"},
		{name: "eksctl disablePodIMDS unresolved is unknown", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisablePodIMDS: unres("anchor", 7)}, want: Unknown},
		{name: "eksctl disableIMDSv1 unresolved does not decide", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisableIMDSv1: unres("anchor", 8)}, want: CredentialsServed},
		{name: "eksctl IPv6 unset is unknown", kind: eksctlNodeGroupKind, family: IPv6, want: Unknown, reason: "IPv6"},
		{name: "eksctl IPv6 unset but pods withheld anyway", kind: eksctlNodeGroupKind, opts: model.AWSMetadataOptions{EksctlDisablePodIMDS: set("true", 7)}, family: IPv6, want: CredentialsWithheld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(awsConfig(tt.kind, tt.opts), tt.class, tt.family)
			if got.Verdict != tt.want {
				t.Fatalf("verdict = %v, want %v (reason %q)", got.Verdict, tt.want, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tt.reason)
			}
			if len(got.Sources) == 0 {
				t.Errorf("no sources for %q", got.Reason)
			}
			if got.LegacyEndpoints != Off || got.WorkloadIdentity != Off {
				t.Errorf("AWS outcome has GKE/AKS facts: %+v", got)
			}
		})
	}
}

func TestEvaluateAWSSourcesPointAtDecidingSettings(t *testing.T) {
	got := Evaluate(awsConfig("aws_launch_template", model.AWSMetadataOptions{HTTPTokens: set("required", 12), HopLimit: set("1", 13)}), PodNetwork, IPv4)
	want := []model.Source{at(12), at(13)}
	if len(got.Sources) != 2 || got.Sources[0] != want[0] || got.Sources[1] != want[1] {
		t.Errorf("sources = %v, want %v", got.Sources, want)
	}
}

func TestEvaluateEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		cfg  *model.NodeConfig
	}{
		{"nil", nil},
		{"aws without options", &model.NodeConfig{Cloud: "aws", Kind: "aws_instance", Name: "x"}},
		{"unknown cloud", &model.NodeConfig{Cloud: "oracle", Kind: "x", Name: "y"}},
		{"unresolved reference", &model.NodeConfig{Cloud: "aws", Kind: "aws_eks_node_group", Name: "g", AWS: &model.AWSMetadataOptions{},
			RefersTo: &model.NodeConfigRef{Kind: "aws_launch_template", Name: "aws_launch_template.x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.cfg, PodNetwork, IPv4); got.Verdict != Unknown {
				t.Errorf("verdict = %v, want unknown", got.Verdict)
			}
		})
	}
}
