package generate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// gatorEnv overrides the gator binary hack/gator.sh builds.
const gatorEnv = "IMDSGUARD_GATOR"

// gatorPath returns Gatekeeper's gator CLI. A missing binary fails the test
// (skips it under -short, unless CI=true).
func gatorPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv(gatorEnv)
	if p == "" {
		p = filepath.Join("..", "..", ".cache", "tools", "gator")
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		msg := "gator missing at " + p + ": run hack/gator.sh (or set " + gatorEnv + ")"
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return p
}

// writeYAML writes objects as a multi-document YAML file in dir.
func writeYAML(t *testing.T, dir, name string, objs ...any) {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// updateReview is an AdmissionReview of an UPDATE from old to obj.
func updateReview(old, obj map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "1", "operation": "UPDATE", "userInfo": map[string]any{"username": "test"},
			"kind":     map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"},
			"resource": map[string]any{"group": "apps", "version": "v1", "resource": "deployments"},
			"name":     "web", "namespace": "apps",
			"object": obj, "oldObject": old,
		},
	}
}

// TestGatekeeperPolicy evaluates the generated ConstraintTemplate and
// constraint with gator, Gatekeeper's own engine, against the same cases
// as the ValidatingAdmissionPolicy test: it compiles the Rego and applies
// the constraint's match (kinds, excluded namespaces, namespace selector).
func TestGatekeeperPolicy(t *testing.T) {
	gator := gatorPath(t)
	o := clusterTestOptions()
	arts, err := Admission(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeYAML(t, dir, "template.yaml", arts[3].Object.Object)
	writeYAML(t, dir, "constraint.yaml", arts[4].Object.Object)
	ns := func(name string, labels map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "labels": labels}}
	}
	writeYAML(t, dir, "namespaces.yaml",
		ns("apps", nil), ns("kube-system", nil),
		ns("opted-out", map[string]any{DefaultExemptLabel: DefaultExemptValue}),
		ns("other-value", map[string]any{DefaultExemptLabel: "deny"}))

	type gatorCase struct {
		name      string
		object    map[string]any
		violation bool
	}
	var cases []gatorCase
	for _, kind := range []string{"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"} {
		cases = append(cases,
			gatorCase{"hostnetwork-" + kind, workload(kind, "apps", "x", true).Object, true},
			gatorCase{"plain-" + kind, workload(kind, "apps", "x", false).Object, false})
	}
	unnamed := workload("Pod", "apps", "x", true)
	unnamed.SetName("")
	unnamed.SetGenerateName("x-")
	plain, hostNet := workload("Deployment", "apps", "web", false).Object, workload("Deployment", "apps", "web", true).Object
	cases = append(cases,
		gatorCase{"generatename-pod", unnamed.Object, true},
		gatorCase{"label-other-value", workload("Pod", "other-value", "x", true).Object, true},
		gatorCase{"exempt-by-name-pod", workload("Pod", "kube-system", "x", true).Object, false},
		gatorCase{"exempt-by-name-deployment", workload("Deployment", "kube-system", "x", true).Object, false},
		gatorCase{"exempt-by-label-pod", workload("Pod", "opted-out", "x", true).Object, false},
		gatorCase{"exempt-by-label-deployment", workload("Deployment", "opted-out", "x", true).Object, false},
		gatorCase{"update-turning-hostnetwork-on", updateReview(plain, hostNet), true},
		gatorCase{"update-already-hostnetwork", updateReview(hostNet, hostNet), false},
	)
	var suiteCases []any
	for i, c := range cases {
		file := fmt.Sprintf("case-%02d.yaml", i)
		writeYAML(t, dir, file, c.object)
		yesNo := "no"
		if c.violation {
			yesNo = "yes"
		}
		suiteCases = append(suiteCases, map[string]any{
			"name": c.name, "object": file, "inventory": []any{"namespaces.yaml"},
			"assertions": []any{map[string]any{"violations": yesNo}},
		})
	}
	writeYAML(t, dir, "suite.yaml", map[string]any{
		"apiVersion": "test.gatekeeper.sh/v1alpha1", "kind": "Suite",
		"tests": []any{map[string]any{
			"name": "imdsguard-host-network", "template": "template.yaml", "constraint": "constraint.yaml", "cases": suiteCases,
		}},
	})
	out, err := exec.Command(gator, "verify", dir, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("gator verify: %v\n%s", err, out)
	}
	for _, c := range cases {
		if !strings.Contains(string(out), "--- PASS: "+c.name+"\t") {
			t.Errorf("gator did not report case %s as passed:\n%s", c.name, out)
		}
	}
}
