package app

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/golden"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
)

func TestGenerateExamples(t *testing.T) {
	r := runCLI(t, "", "generate", examples)
	if r.code != cli.ExitClean {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	golden.Check(t, filepath.Join("testdata", "generate-examples.yaml"), r.stdout)
	for _, want := range []string{
		"generated: namespace 3, patch 3, admission 2",
		"proof: 10 of 11 workloads outside exempt namespaces reach no metadata address",
		"(1 exempt)",
		"open: DaemonSet monitoring/node-exporter (examples/cluster/monitoring.yaml:3): uses the host network",
	} {
		if !strings.Contains(r.stderr, strings.ReplaceAll(want, "examples/", "../../examples/")) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestGenerateFedBackIntoScan applies the generated directory to the
// examples the way kubectl apply would (a patched policy replaces the
// original object) and scans the result: every pod-network workload outside
// kube-system is Blocked for every metadata address, and the findings the
// NetworkPolicies caused are gone.
func TestGenerateFedBackIntoScan(t *testing.T) {
	out := t.TempDir()
	r := runCLI(t, "", "generate", "--include", "namespace,patch", "--output-dir", out, examples)
	if r.code != cli.ExitClean {
		t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
	}
	var files []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(files)
	want := []string{
		"kustomization.yaml",
		"namespace/legacy.imdsguard-deny-metadata.yaml",
		"namespace/monitoring.imdsguard-deny-metadata.yaml",
		"patched/analytics.egress-except-metadata.yaml",
		"patched/batch.block-link-local.yaml",
		"patched/storefront.frontend-egress.yaml",
		"patches/analytics.egress-except-metadata.json-patch.yaml",
		"patches/batch.block-link-local.json-patch.yaml",
		"patches/storefront.frontend-egress.json-patch.yaml",
	}
	for _, w := range want {
		found := false
		for _, f := range files {
			found = found || f == w || (strings.HasSuffix(w, "/") && strings.HasPrefix(f, w))
		}
		if !found {
			t.Errorf("output lacks %s; have %v", w, files)
		}
	}
	kust, err := os.ReadFile(filepath.Join(out, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(kust, &k); err != nil {
		t.Fatal(err)
	}
	for _, res := range k.Resources {
		if _, err := os.Stat(filepath.Join(out, res)); err != nil || strings.HasPrefix(res, "patches/") {
			t.Errorf("kustomization resource %s: %v", res, err)
		}
	}

	applied := t.TempDir()
	replaced := map[string]bool{}
	for _, f := range files {
		if strings.HasPrefix(f, "patched/") {
			replaced[strings.TrimSuffix(strings.TrimPrefix(f, "patched/"), ".yaml")] = true
		}
	}
	copyWithout(t, filepath.Join(examples, "cluster"), applied, replaced)
	d := rescan(t, applied, filepath.Join(out, "namespace"), filepath.Join(out, "patched"))
	checked := 0
	for _, w := range d.Workloads {
		if w.Object.Namespace == "kube-system" || w.HostNetwork {
			continue
		}
		checked++
		for _, v := range w.Verdicts {
			if v.Verdict.String() != "Blocked" {
				t.Errorf("%s/%s: %s %s after applying the generated policies", w.Object.Namespace, w.Object.Name, v.Target, v.Verdict)
			}
		}
	}
	if checked < 6 {
		t.Errorf("only %d workloads checked", checked)
	}
	for _, f := range d.Findings {
		switch f.RuleID {
		case "IMDS-003", "IMDS-004", "IMDS-005", "IMDS-006":
			if f.Namespace != "kube-system" {
				t.Errorf("finding left after applying: %s %s", f.RuleID, f.Message)
			}
		}
	}
}

// copyWithout copies the example files, dropping the NetworkPolicies named
// in drop ("namespace.name"); files holding one are re-encoded as YAML.
func copyWithout(t *testing.T, from, to string, drop map[string]bool) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("NetworkPolicy")) {
			os.WriteFile(filepath.Join(to, e.Name()), data, 0o644)
			continue
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		var docs []string
		for {
			var m map[string]any
			if err := dec.Decode(&m); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			items := []any{m}
			if its, ok := m["items"].([]any); ok {
				items = its
			}
			for _, it := range items {
				obj := it.(map[string]any)
				meta, _ := obj["metadata"].(map[string]any)
				if obj["kind"] == "NetworkPolicy" && drop[meta["namespace"].(string)+"."+meta["name"].(string)] {
					continue
				}
				y, _ := yaml.Marshal(obj)
				docs = append(docs, string(y))
			}
		}
		os.WriteFile(filepath.Join(to, strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))+".yaml"), []byte(strings.Join(docs, "---\n")), 0o644)
	}
}

// TestGenerateFromReport: a scan's JSON report is an input too. It yields
// the namespace policies and patches the report can support, says there is
// no proof, and refuses an incomplete report.
func TestGenerateFromReport(t *testing.T) {
	dir := t.TempDir()
	rep := filepath.Join(dir, "scan.json")
	if r := runCLI(t, "", "scan", "-f", "json", "-o", rep, examples); r.code != cli.ExitFindings {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	r := runCLI(t, "", "generate", "--include", "namespace,patch", rep)
	if r.code != cli.ExitClean {
		t.Fatalf("generate: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"namespace: legacy\nspec:", "name: frontend-egress", "name: egress-except-metadata", "- fd00:ec2::254/128"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "namespace: monitoring") {
		t.Errorf("monitoring has only a hostNetwork workload, so nothing to isolate from a report:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "proof: none: a scan report cannot be evaluated again") || !strings.Contains(r.stderr, "generated: namespace 2, patch 2") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	// The same from stdin.
	data, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	if r2 := runCLI(t, string(data), "generate", "--include", "namespace,patch", "-"); r2.code != cli.ExitClean || r2.stdout != r.stdout {
		t.Errorf("from stdin: exit %d, same output %v\n%s", r2.code, r2.stdout == r.stdout, r2.stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["complete"] = false
	bad, _ := json.Marshal(doc)
	incomplete := filepath.Join(dir, "incomplete.json")
	os.WriteFile(incomplete, bad, 0o644)
	if r := runCLI(t, "", "generate", incomplete); r.code != cli.ExitInput || !strings.Contains(r.stderr, "the scan report is incomplete") {
		t.Errorf("incomplete report: exit %d\n%s", r.code, r.stderr)
	}
}

// TestGenerateNodeFixes: --include node writes the node fixes as files in
// the language of their source, and a stream refuses them.
func TestGenerateNodeFixes(t *testing.T) {
	out := t.TempDir()
	r := runCLI(t, "", "generate", "--include", "node,detection", "--output-dir", out, examples)
	if r.code != cli.ExitFindings { // NetworkPolicies were not generated, so the proof leaves workloads open
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, f := range []string{"node/nodegroup.cfn.NodeLaunchTemplate.yaml", "detection/falco-imdsguard.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "kustomization.yaml")); err == nil {
		t.Errorf("a kustomization.yaml without Kubernetes objects")
	}
	r = runCLI(t, "", "generate", "--include", "node", examples)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "is not a Kubernetes object and cannot be written to a YAML stream; use --output-dir") {
		t.Errorf("stream with node fixes: exit %d\n%s", r.code, r.stderr)
	}
}

// TestGenerateAdminPolicyFedBackIntoScan: the generated AdminNetworkPolicy
// alone, scanned with the examples, leaves every pod-network workload
// outside kube-system Blocked, decided by the AdminNetworkPolicy layer
// where no NetworkPolicy blocks first.
func TestGenerateAdminPolicyFedBackIntoScan(t *testing.T) {
	out := t.TempDir()
	r := runCLI(t, "", "generate", "--include", "cluster", "--cluster-kinds", "anp", "--output-dir", out, examples)
	if r.code != cli.ExitClean {
		t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "note:") {
		t.Errorf("the summary says the proof leaves something out:\n%s", r.stderr)
	}
	d := rescan(t, filepath.Join(examples, "cluster"), filepath.Join(out, "cluster"))
	checked, byAdmin := 0, 0
	for _, w := range d.Workloads {
		if w.Object.Namespace == "kube-system" || w.HostNetwork {
			continue
		}
		checked++
		for _, v := range w.Verdicts {
			if v.Verdict.String() != "Blocked" {
				t.Errorf("%s/%s: %s %s with the generated AdminNetworkPolicy", w.Object.Namespace, w.Object.Name, v.Target, v.Verdict)
			}
			if len(v.Trace) > 0 && v.Trace[0].Layer == reach.LayerAdmin && v.Trace[0].Decision == reach.Deny {
				byAdmin++
			}
		}
	}
	if checked < 6 || byAdmin == 0 {
		t.Errorf("%d workloads checked, %d verdicts decided by the AdminNetworkPolicy", checked, byAdmin)
	}
}

// rescan scans paths with the generated objects applied; hostNetwork and
// node findings remain, so the exit code says findings.
func rescan(t *testing.T, paths ...string) report.Document {
	t.Helper()
	r := runCLI(t, "", append([]string{"scan", "-f", "json"}, paths...)...)
	if r.code != cli.ExitFindings {
		t.Fatalf("rescan exit code = %d; stderr:\n%s", r.code, r.stderr)
	}
	var d report.Document
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGenerateForms: --admission-kinds picks the admission forms, and bad
// flag values are usage errors.
func TestGenerateForms(t *testing.T) {
	r := runCLI(t, "", "generate", "--include", "admission", "--admission-kinds", "kyverno,gatekeeper", examples)
	if !strings.Contains(r.stdout, "kind: ClusterPolicy") || !strings.Contains(r.stdout, "kind: ConstraintTemplate") ||
		strings.Contains(r.stdout, "kind: ValidatingAdmissionPolicy") {
		t.Errorf("forms kyverno,gatekeeper: exit %d\n%s", r.code, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admission-kinds", "opa"}, `unknown admission form "opa"`},
		{[]string{"--include", "everything"}, `--include: unknown group "everything"`},
		{[]string{"--exempt-label", "nolabel"}, "--exempt-label must be KEY=VALUE"},
	} {
		r := runCLI(t, "", append(append([]string{"generate"}, tc.args...), examples)...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}
