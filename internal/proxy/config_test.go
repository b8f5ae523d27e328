package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfigInvalid(t *testing.T) {
	want := map[string]string{
		"invalid-unknown-field.yaml": "testdata/invalid-unknown-field.yaml:6: field namespace not found",
		"invalid-grant.yaml":         `testdata/invalid-grant.yaml:8: profiles[1]: profile "legacy": "gcp-legacy" cannot be granted`,
		"invalid-path.yaml":          `testdata/invalid-path.yaml:5: allow[1]: allowed path "/latest/meta-data/../user-data" is not a canonical path`,
		"invalid-cloud.yaml":         `testdata/invalid-cloud.yaml:4: unknown cloud flavour "alibaba"`,
		"invalid-no-namespaces.yaml": `testdata/invalid-no-namespaces.yaml:4: profiles[0]: profile "everyone": namespaces is required`,
		"invalid-kind.yaml":          `testdata/invalid-kind.yaml:1: want apiVersion imdsguard.io/v1alpha1 and kind ProxyConfig`,
	}
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) != len(want) {
		t.Fatalf("%d invalid files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := LoadConfig(f)
		if err == nil {
			t.Errorf("%s: no error", f)
			continue
		}
		if w := want[filepath.Base(f)]; !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q, want it to contain %q", f, err, w)
		}
	}
}

func TestLoadConfigValid(t *testing.T) {
	c, err := LoadConfig("testdata/valid-profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Flavour != FlavourAWS || !c.RequireIMDSv2 || c.ProfileAnnotation != DefaultProfileAnnotation || len(c.Profiles) != 2 {
		t.Fatalf("config = %+v", c)
	}
	ann := func(v string) map[string]string { return map[string]string{DefaultProfileAnnotation: v} }
	tests := []struct {
		name          string
		ns            string
		pod, nsAnn    map[string]string
		wantProfile   string
		wantNoteMatch string
	}{
		{"no annotation", "kube-system", nil, nil, "", ""},
		{"namespace annotation", "kube-system", nil, ann("node-agents"), "node-agents", ""},
		{"pod annotation", "team-a", ann("hostname"), nil, "hostname", ""},
		{"pod wins over namespace", "team-a", ann("hostname"), ann("node-agents"), "hostname", ""},
		{"pod may not take a profile of another namespace", "default", ann("node-agents"), nil, "", `profile "node-agents", which namespace "default" may not use`},
		{"unknown profile", "team-a", ann("nope"), nil, "", `unknown profile "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, note := c.Allowance(tc.ns, tc.pod, tc.nsAnn)
			if a.Profile != tc.wantProfile || !strings.Contains(note, tc.wantNoteMatch) || (tc.wantNoteMatch == "" && note != "") {
				t.Fatalf("allowance %+v, note %q; want profile %q, note containing %q", a, note, tc.wantProfile, tc.wantNoteMatch)
			}
		})
	}
	p, err := New(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Allowance("kube-system", nil, ann("node-agents"))
	got := []Rule{
		p.Decide(req("GET", "/latest/meta-data/iam/security-credentials/node", "X-aws-ec2-metadata-token", "t"), a).Rule,
		p.Decide(req("GET", "/latest/meta-data/iam/security-credentials/node", "X-aws-ec2-metadata-token", "t"), Allowance{}).Rule,
		p.Decide(req("GET", "/latest/meta-data/placement/availability-zone", "X-aws-ec2-metadata-token", "t"), Allowance{}).Rule,
		p.Decide(req("GET", "/latest/meta-data/placement/availability-zone"), Allowance{}).Rule,
	}
	if diff := cmp.Diff(got, []Rule{RuleGranted, RuleAWSCredentials, RuleExtra, RuleAWSIMDSv1}); diff != "" {
		t.Errorf("decisions (-got +want):\n%s", diff)
	}
}

func TestParseConfigRejectsSecondDocument(t *testing.T) {
	b, err := os.ReadFile("testdata/valid-profiles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConfig("two.yaml", append(b, []byte("---\nkind: x\n")...)); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Fatalf("err = %v", err)
	}
}
