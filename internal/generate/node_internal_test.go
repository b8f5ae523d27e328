package generate

import "testing"

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
