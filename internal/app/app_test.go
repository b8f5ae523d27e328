package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/golden"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/schematest"
)

const examples = "../../examples"

type run struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, stdin string, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), cli.Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, args)
	return run{code, out.String(), errOut.String()}
}

func TestScanExamplesTable(t *testing.T) {
	r := runCLI(t, "", "scan", "--color", "never", examples)
	if r.code != cli.ExitFindings {
		t.Fatalf("exit code = %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	golden.Check(t, filepath.Join("testdata", "examples.table"), r.stdout)
}

// TestExamplesTriggerEveryRule is the promise the examples make: each rule
// fires at least once, and each scenario gets the verdict it was built for.
func TestExamplesTriggerEveryRule(t *testing.T) {
	r := runCLI(t, "", "scan", "-f", "json", examples)
	if r.code != cli.ExitFindings {
		t.Fatalf("exit code = %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	var d report.Document
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, f := range d.Findings {
		fired[f.RuleID] = true
	}
	for _, rule := range d.Rules {
		if rule.ID == "IMDS-007" {
			continue // examples have no undecidable verdict; see TestKeepGoing
		}
		if rules.Default().Get(rule.ID).ProbeOnly {
			continue // only a probe raises it; see internal/cli/probe
		}
		if !fired[rule.ID] {
			t.Errorf("no example triggers %s", rule.ID)
		}
	}
	want := map[string]string{ // workload key -> verdicts for v4, v6
		"payments/Deployment/checkout":       "Blocked Blocked",
		"storefront/Deployment/frontend":     "Reachable Reachable",
		"storefront/StatefulSet/cart":        "Blocked Blocked",
		"monitoring/DaemonSet/node-exporter": "Reachable Reachable",
		"legacy/Deployment/billing-report":   "Reachable Reachable",
		"legacy/ReplicaSet/ledger-6d5f7c9b8": "Reachable Reachable",
		"batch/Job/reindex":                  "Blocked Blocked",
		"analytics/Deployment/spark-driver":  "Blocked Reachable",
	}
	got := map[string]string{}
	for _, w := range d.Workloads {
		k := w.Object.Namespace + "/" + w.Object.Kind + "/" + w.Object.Name
		if _, ok := want[k]; !ok {
			continue
		}
		var v []string
		for _, vd := range w.Verdicts {
			if vd.Target == "169.254.169.254:80/TCP" || vd.Target == "[fd00:ec2::254]:80/TCP" {
				v = append(v, vd.Verdict.String())
			}
		}
		got[k] = strings.Join(v, " ")
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("verdicts (-got +want):\n%s", diff)
	}
	if d.Summary.Suppressed != 2 {
		t.Errorf("suppressed = %d, want 2 (aws-node's annotation)", d.Summary.Suppressed)
	}
}

func TestExitCodes(t *testing.T) {
	clean := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  containers: [{name: c, image: i}]\n"
	badCIDR := strings.Replace(clean, "  policyTypes: [Egress]\n", "  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/33}\n", 1)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"clean", clean, []string{"scan", "-"}, 0, ""},
		{"findings", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n", []string{"scan", "-"}, 1, ""},
		{"findings below threshold", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n", []string{"scan", "--fail-on", "critical", "-"}, 0, ""},
		{"fail-on none", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: c, image: i}]}\n", []string{"scan", "--fail-on", "none", "-"}, 0, ""},
		{"input error", badCIDR, []string{"scan", "-"}, 2, "<stdin>:8: NetworkPolicy a/d:"},
		{"input error keep-going", badCIDR, []string{"scan", "--keep-going", "-"}, 2, "input error"},
		{"no input", "", []string{"scan"}, 2, "no input"},
		{"bad format", clean, []string{"scan", "-f", "xml", "-"}, 2, "xml"},
		{"bad cloud", clean, []string{"scan", "--cloud", "mars", "-"}, 2, "unknown cloud"},
		{"bad fail-on", clean, []string{"scan", "--fail-on", "severe", "-"}, 2, "severity"},
		{"bad flag", clean, []string{"scan", "--nope", "-"}, 2, "unknown flag"},
		{"missing file", "", []string{"scan", "does-not-exist.yaml"}, 2, "does-not-exist.yaml"},
		{"terraform syntax error", "", []string{"scan", "testdata/broken.tf"}, 2, "testdata/broken.tf:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.stdin, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, r.stderr)
			}
		})
	}
}

// TestKeepGoing checks that a broken policy turns the namespace's Blocked
// verdicts into Unknown instead of leaving them Blocked.
func TestKeepGoing(t *testing.T) {
	in := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n---\n" +
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken, namespace: a}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: not-a-cidr}}]\n---\n" +
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: i}]}\n"
	r := runCLI(t, in, "scan", "--keep-going", "-f", "json", "--cloud", "aws", "-")
	if r.code != 2 {
		t.Fatalf("exit code = %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	var d report.Document
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if d.Complete || len(d.Errors) != 1 {
		t.Fatalf("complete = %v, errors = %v; want incomplete with 1 error", d.Complete, d.Errors)
	}
	for _, v := range d.Workloads[0].Verdicts {
		if v.Verdict.String() != "Unknown" {
			t.Errorf("%s: verdict %s, want Unknown", v.Target, v.Verdict)
		}
	}
	found := false
	for _, f := range d.Findings {
		found = found || f.RuleID == "IMDS-007"
	}
	if !found {
		t.Error("no IMDS-007 finding for the undecidable verdicts")
	}
}

func TestExplain(t *testing.T) {
	r := runCLI(t, "", "explain", "storefront/deployment/frontend", examples)
	if r.code != 0 {
		t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
	}
	golden.Check(t, filepath.Join("testdata", "explain-frontend.txt"), r.stdout)
	r = runCLI(t, "", "explain", "storefront/Deployment/nope", examples)
	if r.code != 2 || !strings.Contains(r.stderr, "no workload") {
		t.Fatalf("unknown workload: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestSchemasValidateExamples validates the real reports of the examples,
// not only the renderers' fixtures, against the checked-in JSON Schema and
// the official SARIF 2.1.0 schema.
func TestSchemasValidateExamples(t *testing.T) {
	for _, tt := range []struct{ format, schema string }{
		{"json", "../../docs/schema/scan-v1.json"},
		{"sarif", "../report/testdata/sarif-schema-2.1.0.json"},
	} {
		r := runCLI(t, "", "scan", "-f", tt.format, "--cloud", "all", examples)
		if r.code != 1 {
			t.Fatalf("-f %s: exit %d; stderr:\n%s", tt.format, r.code, r.stderr)
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(r.stdout))
		if err != nil {
			t.Fatalf("-f %s: %v", tt.format, err)
		}
		if err := schematest.Compile(t, tt.schema).Validate(v); err != nil {
			t.Errorf("-f %s output does not match %s:\n%v", tt.format, tt.schema, err)
		}
	}
}

func TestConfigSuppression(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "imdsguard.yaml")
	os.WriteFile(cfg, []byte("apiVersion: imdsguard.io/v1alpha1\nkind: ScanConfig\nsuppressions:\n- rule: IMDS-002\n  namespace: monitoring\n  reason: node metrics need the host network\n"), 0o644)
	r := runCLI(t, "", "scan", "-f", "json", "--config", cfg, examples)
	var d report.Document
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, r.stderr)
	}
	for _, f := range d.Findings {
		if f.RuleID == "IMDS-002" && f.Namespace == "monitoring" {
			if f.Suppressed == nil || f.Suppressed.By != "config" {
				t.Errorf("IMDS-002 in monitoring not suppressed by config: %+v", f.Suppressed)
			}
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: imdsguard.io/v1alpha1\nkind: ScanConfig\nsuppresions: []\n"), 0o644)
	r = runCLI(t, "", "scan", "--config", bad, examples)
	if r.code != 2 || !strings.Contains(r.stderr, "suppresions") {
		t.Errorf("strict config: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestRulesAndVersion(t *testing.T) {
	r := runCLI(t, "", "rules")
	if r.code != 0 || !strings.Contains(r.stdout, "IMDS-004") {
		t.Errorf("rules: code %d, out %q", r.code, r.stdout)
	}
	r = runCLI(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "imdsguard ") {
		t.Errorf("version: code %d, out %q", r.code, r.stdout)
	}
}

// TestNodeSettings checks that node settings read from infrastructure code
// in the same run decide, with the network, whether pods get credentials.
func TestNodeSettings(t *testing.T) {
	template := func(options string) string {
		return "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  Hop: {Type: Number}\nResources:\n  LT:\n    Type: AWS::EC2::LaunchTemplate\n" +
			"    Properties:\n      LaunchTemplateData:\n        MetadataOptions: {" + options + "}\n---\n"
	}
	pod := func(host bool) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {hostNetwork: %v, containers: [{name: c, image: i}]}\n", host)
	}
	tests := []struct {
		name, in   string
		want4      string // verdict at 169.254.169.254
		wantLayer4 string // last layer of its trace
	}{
		{"tokens required, hop limit 1", template("HttpTokens: required, HttpPutResponseHopLimit: 1") + pod(false), "Blocked", "NodeSettings"},
		{"hop limit 2 lets pods in", template("HttpTokens: required, HttpPutResponseHopLimit: 2") + pod(false), "Reachable", "NodeSettings"},
		{"IMDSv1 left on", template("HttpPutResponseHopLimit: 1") + pod(false), "Reachable", "NodeSettings"},
		{"host network is served anyway", template("HttpTokens: required, HttpPutResponseHopLimit: 1") + pod(true), "Reachable", "NodeSettings"},
		{"unresolved hop limit is not safe", template("HttpTokens: required, HttpPutResponseHopLimit: !Ref Hop") + pod(false), "Reachable", "NodeSettings"},
		{"no node settings", pod(false), "Reachable", "NetworkPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.in, "scan", "-f", "json", "--cloud", "aws", "--fail-on", "none", "-")
			if r.code != 0 {
				t.Fatalf("code %d, stderr %q", r.code, r.stderr)
			}
			var d report.Document
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatal(err)
			}
			v := d.Workloads[0].Verdicts[0]
			if v.Target != "169.254.169.254:80/TCP" {
				t.Fatalf("first target %s", v.Target)
			}
			last := v.Trace[len(v.Trace)-1]
			if v.Verdict.String() != tt.want4 || string(last.Layer) != tt.wantLayer4 {
				t.Errorf("verdict %s decided by %s, want %s by %s; trace %+v", v.Verdict, last.Layer, tt.want4, tt.wantLayer4, v.Trace)
			}
		})
	}
}

// TestTerraformInputs checks that Terraform in a scanned directory, or named
// as a file, gives node settings that decide with the network.
func TestTerraformInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("infra/main.tf", `variable "hop" { default = 1 }
resource "aws_launch_template" "nodes" {
  name = "nodes"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = var.hop
  }
}
`)
	write("infra/modules/unused/main.tf", "resource \"aws_instance\" \"x\" {}\n")
	write("k8s/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: i}]}\n")
	for _, args := range [][]string{
		{filepath.Join(dir)},
		{filepath.Join(dir, "infra", "main.tf"), filepath.Join(dir, "k8s")},
	} {
		r := runCLI(t, "", append([]string{"scan", "-f", "json", "-v", "--fail-on", "none"}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: code %d, stderr %q", args, r.code, r.stderr)
		}
		var d report.Document
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Clouds) != 1 || d.Clouds[0] != "aws" {
			t.Errorf("%v: clouds %v, want aws from the Terraform", args, d.Clouds)
		}
		if v := d.Workloads[0].Verdicts[0]; v.Verdict.String() != "Blocked" {
			t.Errorf("%v: %s %s, want Blocked by the node layer; trace %+v", args, v.Target, v.Verdict, v.Trace)
		}
		if len(args) == 1 && !strings.Contains(r.stderr, "read only as a module it calls") {
			t.Errorf("nested Terraform directory not listed as skipped:\n%s", r.stderr)
		}
	}
}

func TestExplainKeepOpen(t *testing.T) {
	r := runCLI(t, "", "explain", "--keep-open", "batch/Job/reindex", examples)
	if r.code != 0 {
		t.Fatalf("code %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "169.254.170.23:80/TCP (EKS Pod Identity agent) — Blocked") {
		t.Errorf("the keep-open services are not explained:\n%s", r.stdout)
	}
	if r := runCLI(t, "", "explain", "batch/Job/reindex", examples); strings.Contains(r.stdout, "Pod Identity") {
		t.Errorf("keep-open services explained without --keep-open:\n%s", r.stdout)
	}
}

func TestExtraEndpoint(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: i}]}\n"
	r := runCLI(t, pod, "scan", "-f", "json", "--cloud", "aws", "--endpoint", "corp=10.1.2.3:8080", "--fail-on", "none", "-")
	if r.code != 0 {
		t.Fatalf("code %d; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, `"id": "10.1.2.3:8080/TCP"`) || !strings.Contains(r.stdout, `"id": "corp"`) {
		t.Errorf("extra endpoint missing from the report:\n%s", r.stdout)
	}
}

// TestNodeProfile: node settings declared with --node-profile (every node
// of the cloud) or in the config file (the nodes with its labels) join the
// verdict like settings read from infrastructure code: with tokens required
// and hop limit 1, pod-network pods are Blocked by the node layer and
// hostNetwork pods are not; a node that no profile describes keeps the
// verdict open.
func TestNodeProfile(t *testing.T) {
	verdicts := func(args ...string) map[string]string {
		t.Helper()
		r := runCLI(t, "", append([]string{"scan", "-f", "json", "--fail-on", "none"}, args...)...)
		if r.code != cli.ExitClean {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var d report.Document
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, w := range d.Workloads {
			var v []string
			for _, vd := range w.Verdicts {
				v = append(v, vd.Verdict.String())
			}
			out[w.Object.Name] = strings.Join(v, " ")
		}
		return out
	}
	dir := filepath.Join("testdata", "nodeprofile")
	cluster := filepath.Join(dir, "cluster.yaml")
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string
	}{
		{"no settings", []string{cluster}, map[string]string{"api": "Reachable Reachable", "agent": "Reachable Reachable", "pinned": "Reachable Reachable"}},
		{"flag: every node", []string{"--node-profile", "aws:httpTokens=required,httpPutResponseHopLimit=1", cluster},
			map[string]string{"api": "Blocked Blocked", "agent": "Reachable Blocked", "pinned": "Blocked Blocked"}},
		{"flag: hop limit 2", []string{"--node-profile", "aws:httpTokens=required,httpPutResponseHopLimit=2", cluster},
			map[string]string{"api": "Reachable Blocked", "agent": "Reachable Blocked", "pinned": "Reachable Blocked"}},
		// The config's profile describes only the secure node; the other node
		// is described by nothing, so pods that may run there stay open, and
		// only the pods pinned to the secure group are Blocked.
		{"config: one node group", []string{"--config", filepath.Join(dir, "config.yaml"), cluster},
			map[string]string{"api": "Reachable Reachable", "agent": "Reachable Reachable", "pinned": "Blocked Blocked"}},
		{"config and flag", []string{"--config", filepath.Join(dir, "config.yaml"), "--node-profile", "aws:httpTokens=required,httpPutResponseHopLimit=1", cluster},
			map[string]string{"api": "Blocked Blocked", "agent": "Reachable Blocked", "pinned": "Blocked Blocked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(verdicts(tc.args...), tc.want); diff != "" {
				t.Errorf("verdicts (-got +want):\n%s", diff)
			}
		})
	}
	r := runCLI(t, "", "scan", "--node-profile", "aws:httpTokens=requird", cluster)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, `httpTokens: want optional or required, not "requird"`) {
		t.Errorf("bad profile: exit %d\n%s", r.code, r.stderr)
	}
}
