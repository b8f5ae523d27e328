package generate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/golden"
)

func TestDetectionGolden(t *testing.T) {
	arts, err := Detection(clusterTestOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/falco-imdsguard.golden.yaml", string(arts[0].Raw))
}

// falcoItem is one element of a Falco rules file, read back generically.
type falcoItem = map[string]any

// parseFalco decodes a rules file and indexes its lists, macros and rules.
func parseFalco(t *testing.T, raw []byte) (lists, macros map[string]falcoItem, rules []falcoItem) {
	t.Helper()
	var items []falcoItem
	if err := yaml.Unmarshal(raw, &items); err != nil {
		t.Fatalf("rules file is not YAML: %v", err)
	}
	lists, macros = map[string]falcoItem{}, map[string]falcoItem{}
	for _, it := range items {
		switch {
		case it["list"] != nil:
			lists[it["list"].(string)] = it
		case it["macro"] != nil:
			macros[it["macro"].(string)] = it
		case it["rule"] != nil:
			rules = append(rules, it)
		default:
			t.Errorf("item is neither list, macro nor rule: %v", it)
		}
	}
	return lists, macros, rules
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestDetectionRules(t *testing.T) {
	o := clusterTestOptions()
	arts, err := Detection(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || arts[0].File != "detection/falco-imdsguard.yaml" || arts[0].IsObject() || arts[0].Group != GroupDetection {
		t.Fatalf("artifacts %+v, want one raw detection/falco-imdsguard.yaml", arts)
	}
	lists, macros, rules := parseFalco(t, arts[0].Raw)
	if diff := cmp.Diff(strs(lists["imdsguard_metadata_ipv4"]["items"]), []string{"100.100.100.200", "168.63.129.16", "169.254.169.254"}); diff != "" {
		t.Errorf("IPv4 list (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(strs(lists["imdsguard_metadata_ipv6"]["items"]), []string{"fd00:ec2::254", "fd20:ce::254"}); diff != "" {
		t.Errorf("IPv6 list (-got +want):\n%s", diff)
	}
	if got := macros["imdsguard_metadata_server"]["condition"]; got != "fd.sip in (imdsguard_metadata_ipv4, imdsguard_metadata_ipv6)" {
		t.Errorf("server macro = %q", got)
	}
	connect := macros["imdsguard_outbound_connect"]["condition"].(string)
	for _, s := range []string{"evt.type = connect", "evt.dir = <", "fd.typechar = 4", "fd.typechar = 6"} {
		if !strings.Contains(connect, s) {
			t.Errorf("connect macro %q lacks %q", connect, s)
		}
	}
	if len(rules) != 1 {
		t.Fatalf("got %d rules, want 1", len(rules))
	}
	r := rules[0]
	for _, k := range []string{"desc", "condition", "output", "priority"} {
		if s, _ := r[k].(string); s == "" {
			t.Errorf("rule lacks %s", k)
		}
	}
	cond := r["condition"].(string)
	for _, m := range []string{"imdsguard_outbound_connect", "imdsguard_metadata_server", "container.id != host"} {
		if !strings.Contains(cond, m) {
			t.Errorf("condition %q lacks %q", cond, m)
		}
	}
	tags := strs(r["tags"])
	for _, tag := range []string{"T1552.005", "mitre_credential_access"} {
		if !slices.Contains(tags, tag) {
			t.Errorf("tags %v lack %q", tags, tag)
		}
	}
	exc := r["exceptions"].([]any)[0].(map[string]any)
	if exc["fields"] != "k8s.ns.name" || exc["comps"] != "in" {
		t.Errorf("exception %v, want fields k8s.ns.name with comps in", exc)
	}
	if diff := cmp.Diff(strs(exc["values"]), o.ExemptNamespaces); diff != "" {
		t.Errorf("exempt namespaces (-got +want):\n%s", diff)
	}
}

func TestDetectionFollowsDeny(t *testing.T) {
	o := clusterTestOptions()
	o.Deny = o.Deny[2:3] // 169.254.169.254 only
	o.ExemptNamespaces = nil
	arts, err := Detection(o)
	if err != nil {
		t.Fatal(err)
	}
	lists, macros, rules := parseFalco(t, arts[0].Raw)
	if _, ok := lists["imdsguard_metadata_ipv6"]; ok || len(lists) != 1 {
		t.Errorf("lists %v, want only the IPv4 one", lists)
	}
	if got := macros["imdsguard_metadata_server"]["condition"]; got != "fd.sip in (imdsguard_metadata_ipv4)" {
		t.Errorf("server macro = %q", got)
	}
	exc := rules[0]["exceptions"].([]any)[0].(map[string]any)
	if _, ok := exc["values"]; ok {
		t.Errorf("exception has values %v with no exempt namespaces", exc["values"])
	}
	if _, err := Detection(&Options{}); err == nil {
		t.Error("Detection with no addresses succeeded")
	}
}
