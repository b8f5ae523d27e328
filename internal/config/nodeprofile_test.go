package config_test

import (
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/config"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestNodeProfiles(t *testing.T) {
	in := header + `nodeProfiles:
- name: secure
  cloud: aws
  nodeLabels: {eks.amazonaws.com/nodegroup: secure}
  settings:
    httpTokens: required
    httpPutResponseHopLimit: 1
- name: gke
  cloud: gcp
  settings: {workloadMetadataMode: GKE_METADATA}
`
	got, err := config.Parse("cfg.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.NodeProfiles) != 2 {
		t.Fatalf("got %d profiles", len(got.NodeProfiles))
	}
	p := got.NodeProfiles[0]
	if p.Kind != config.NodeProfileKind || p.Name != "secure" || p.Cloud != "aws" || p.Source.String() != "cfg.yaml:4" ||
		p.NodeLabels["eks.amazonaws.com/nodegroup"] != "secure" {
		t.Errorf("profile: %+v", p)
	}
	if v := p.AWS.HTTPTokens; v.State != model.Set || v.Raw != "required" || v.Source.String() != "cfg.yaml:8" {
		t.Errorf("httpTokens: %+v", v)
	}
	if v := p.AWS.HopLimit; v.Raw != "1" || v.Source.String() != "cfg.yaml:9" {
		t.Errorf("hop limit: %+v", v)
	}
	if v := p.AWS.HTTPEndpoint; v.State != model.Unset {
		t.Errorf("an undeclared setting must stay unset: %+v", v)
	}
	if g := got.NodeProfiles[1].GKE; g == nil || g.WorkloadMetadataMode.Raw != "GKE_METADATA" {
		t.Errorf("gke profile: %+v", got.NodeProfiles[1])
	}
}

func TestNodeProfilesInvalid(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"- name: a\n  cloud: aws\n  setting: {httpTokens: required}\n", "cfg.yaml: line 6: unknown field \"setting\" in a node profile"},
		{"- name: a\n  cloud: aws\n  settings: {httpTokens: requried}\n", "line 6: httpTokens: want optional or required, not \"requried\""},
		{"- name: a\n  cloud: aws\n  settings: {httpPutResponseHopLimit: 65}\n", "want a number from 1 to 64, not \"65\""},
		{"- name: a\n  cloud: aws\n  settings: {workloadMetadataMode: GKE_METADATA}\n", "unknown aws setting \"workloadMetadataMode\" (want httpEndpoint, httpProtocolIpv6, httpPutResponseHopLimit, httpTokens)"},
		{"- name: a\n  cloud: ibm\n  settings: {x: y}\n", "line 5: cloud \"ibm\": want aws, gcp or azure"},
		{"- name: a\n  cloud: aws\n", "line 4: a node profile needs settings"},
		{"- name: a\n  cloud: aws\n  settings: {}\n", "settings is a mapping with at least one setting"},
		{"- name: a\n  cloud: aws\n  settings: {httpTokens: required}\n- name: a\n  cloud: aws\n  settings: {httpTokens: required}\n",
			"cfg.yaml:7: node profile \"a\" is declared twice (first at line 4)"},
	} {
		_, err := config.Parse("cfg.yaml", []byte(header+"nodeProfiles:\n"+tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestNodeProfileFlag(t *testing.T) {
	p, err := config.ParseNodeProfileFlag("azure:oidcIssuerEnabled=true, workloadIdentityEnabled=true")
	if err != nil {
		t.Fatal(err)
	}
	if p.Cloud != "azure" || p.AKS.WorkloadIdentityEnabled.Raw != "true" || len(p.NodeLabels) != 0 {
		t.Errorf("profile: %+v", p)
	}
	for _, tc := range []struct{ in, want string }{
		{"aws", "want CLOUD:KEY=VALUE"},
		{"aws:httpTokens", `"httpTokens" is not KEY=VALUE`},
		{"gcp:disableLegacyEndpoints=yes", `want true or false, not "yes"`},
	} {
		if _, err := config.ParseNodeProfileFlag(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}
