package cloudformation

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name, doc string
		want      bool
	}{
		{"format version", "AWSTemplateFormatVersion: '2010-09-09'\n", true},
		{"resources only", "Resources:\n  LT:\n    Type: AWS::EC2::LaunchTemplate\n", true},
		{"json", `{"Resources": {"I": {"Type": "AWS::EC2::Instance"}}}`, true},
		{"kubernetes object", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", false},
		{"resources of another kind", "Resources:\n  x:\n    Type: Custom\n", false},
		{"not a mapping", "- a\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &root); err != nil {
				t.Fatal(err)
			}
			if got := Detect(&root); got != tt.want {
				t.Errorf("Detect = %t, want %t", got, tt.want)
			}
		})
	}
}
