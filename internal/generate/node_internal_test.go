package generate

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func TestTerraformAddress(t *testing.T) {
	for _, tt := range []struct{ kind, address, name, module string }{
		{"aws_launch_template", "aws_launch_template.workers", "workers", ""},
		{"aws_launch_template", "module.eks.module.nodes.aws_launch_template.workers", "workers", "module.eks.module.nodes."},
		{"google_container_node_pool", `module.gke.google_container_cluster.c.node_pool["p"]`, `google_container_cluster.c.node_pool["p"]`, "module.gke."},
	} {
		name, module := terraformAddress(tt.kind, tt.address)
		if name != tt.name || module != tt.module {
			t.Errorf("terraformAddress(%q) = %q, %q; want %q, %q", tt.address, name, module, tt.name, tt.module)
		}
	}
	if c, p, ok := inlinePool(`google_container_cluster.c.node_pool["p"]`); !ok || c != "c" || p != "p" {
		t.Errorf("inlinePool = %q %q %t", c, p, ok)
	}
	if _, _, ok := inlinePool("google_container_node_pool.p"); ok {
		t.Error("a separate pool read as inline")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"i-0abc":          "i-0abc",
		"$Default":        "'$Default'",
		`{"a":1}`:         `'{"a":1}'`,
		"it's":            `'it'\''s'`,
		"":                "''",
		"a b; rm -rf /":   "'a b; rm -rf /'",
		"lt-0123:$Latest": "'lt-0123:$Latest'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestExportedVersionsShareOneFix checks that the versions of a launch
// template exported with the AWS CLI get one fix, made from the latest
// version read even when that one needs none, and naming every version
// that does.
func TestExportedVersionsShareOneFix(t *testing.T) {
	version := func(n, tokens string) *model.NodeConfig {
		o := &model.AWSMetadataOptions{HTTPTokens: model.Value{State: model.Set, Raw: tokens},
			HopLimit: model.Value{State: model.Set, Raw: "1"}}
		return &model.NodeConfig{Cloud: "aws", Kind: awsCLIVersionsKind, Name: "lt-1:" + n, AWS: o,
			Source: model.Source{File: "v.json", Line: len(n)}}
	}
	fixes := nodeFixes([]*model.NodeConfig{version("1", "optional"), version("2", "optional"), version("3", "required")})
	if len(fixes) != 1 {
		t.Fatalf("%d fixes, want 1", len(fixes))
	}
	f := fixes[0]
	if f.cfg.Name != "lt-1:2" || f.sourceVersion != 3 || len(f.also) != 1 || f.also[0].Name != "lt-1:1" {
		t.Errorf("fix for %s from version %d, also %d", f.cfg.Name, f.sourceVersion, len(f.also))
	}
	body, _ := f.render()
	if !strings.Contains(body, "--source-version 3") {
		t.Errorf("not made from version 3:\n%s", body)
	}
}
