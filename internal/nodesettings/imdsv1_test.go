package nodesettings

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func TestIMDSv1(t *testing.T) {
	tests := []struct {
		name   string
		kind   string
		o      model.AWSMetadataOptions
		want   Toggle
		reason string
		line   int
	}{
		{"tokens unset", "aws_launch_template", model.AWSMetadataOptions{}, On, "AWS's default is optional", 1},
		{"tokens optional", "aws_launch_template", model.AWSMetadataOptions{HTTPTokens: set("optional", 4)}, On, "optional", 4},
		{"tokens optional, hop limit 1", "aws_launch_template", model.AWSMetadataOptions{HTTPTokens: set("optional", 4), HopLimit: set("1", 5)}, On, "", 4},
		{"tokens required", "aws_launch_template", model.AWSMetadataOptions{HTTPTokens: set("required", 4), HopLimit: set("2", 5)}, Off, "", 4},
		{"endpoint disabled", "aws_launch_template", model.AWSMetadataOptions{HTTPEndpoint: set("disabled", 3), HTTPTokens: set("optional", 4)}, Off, "", 3},
		{"endpoint unresolved", "aws_launch_template", model.AWSMetadataOptions{HTTPEndpoint: unres("var.e", 3), HTTPTokens: set("optional", 4)}, Undetermined, "var.e", 3},
		{"endpoint unresolved, tokens required", "aws_launch_template", model.AWSMetadataOptions{HTTPEndpoint: unres("var.e", 3), HTTPTokens: set("required", 4)}, Off, "", 4},
		{"tokens unresolved", "aws_launch_template", model.AWSMetadataOptions{HTTPTokens: unres("var.t", 4)}, Undetermined, "var.t", 4},
		{"tokens misspelt", "aws_launch_template", model.AWSMetadataOptions{HTTPTokens: set("Required", 4)}, Undetermined, "not a value", 4},
		{"pending", "ec2 describe-instances", model.AWSMetadataOptions{State: set("pending", 6), HTTPTokens: set("optional", 4)}, Undetermined, "pending", 6},
		{"eksctl defaults", eksctlManagedNodeGroupKind, model.AWSMetadataOptions{}, Off, "disableIMDSv1 unset (default true)", 1},
		{"eksctl disableIMDSv1 false", eksctlNodeGroupKind, model.AWSMetadataOptions{EksctlDisableIMDSv1: set("false", 7)}, On, "disableIMDSv1 = false", 7},
		{"eksctl disablePodIMDS", eksctlNodeGroupKind, model.AWSMetadataOptions{EksctlDisableIMDSv1: set("false", 7), EksctlDisablePodIMDS: set("true", 8)}, Off, "", 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, src := IMDSv1(awsConfig(tt.kind, tt.o))
			if got != tt.want || !strings.Contains(reason, tt.reason) || src != at(tt.line) {
				t.Errorf("IMDSv1 = %s (%s) at %s, want %s mentioning %q at line %d", got, reason, src, tt.want, tt.reason, tt.line)
			}
		})
	}
	if got, _, _ := IMDSv1(&model.NodeConfig{Cloud: "gcp", GKE: &model.GKEMetadata{}}); got != Undetermined {
		t.Errorf("a GKE config: %s, want undetermined", got)
	}
}

// TestIMDSv1AgreesWithEvaluate checks, over every combination of endpoint,
// tokens, hop limit and state, that IMDSv1 on means credentials served to
// every class at the IPv4 endpoint, and that an unresolved value never
// turns it on or off unless every value it could stand for agrees.
func TestIMDSv1AgreesWithEvaluate(t *testing.T) {
	domains := [][]model.Value{
		domain("enabled", "disabled"), domain("optional", "required"), domain("1", "2"), domain("applied", "pending"),
	}
	cfg := func(v []model.Value) *model.NodeConfig {
		return awsConfig("aws_launch_template", model.AWSMetadataOptions{HTTPEndpoint: v[0], HTTPTokens: v[1], HopLimit: v[2], State: v[3]})
	}
	product(domains, func(v []model.Value) {
		got, reason, _ := IMDSv1(cfg(v))
		if got == On {
			for _, class := range []Class{PodNetwork, HostNetwork} {
				if o := Evaluate(cfg(v), class, IPv4); o.Verdict != CredentialsServed {
					t.Errorf("%s: IMDSv1 on (%s) but %s: %v (%s)", show(v), reason, class, o.Verdict, o.Reason)
				}
			}
		}
		if got == Undetermined {
			return
		}
		options := make([][]model.Value, len(v))
		for i := range v {
			options[i] = concretes(v[i], domains[i])
		}
		product(options, func(c []model.Value) {
			if alt, _, _ := IMDSv1(cfg(c)); alt != got {
				t.Errorf("%s gives %s (%s), but %s gives %s", show(v), got, reason, show(c), alt)
			}
		})
	})
}
