package generate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/golden"
)

func TestAdmissionGolden(t *testing.T) {
	arts, err := Admission(clusterTestOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/admission.golden.yaml", renderArtifacts(t, arts))
}

func TestAdmissionArtifacts(t *testing.T) {
	o := clusterTestOptions()
	o.Name = "guard"
	arts, err := Admission(o)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, a := range arts {
		kinds = append(kinds, a.Object.GetKind())
		if a.Group != GroupAdmission {
			t.Errorf("%s: group %q, want %q", a.File, a.Group, GroupAdmission)
		}
	}
	want := []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ClusterPolicy", "ConstraintTemplate", GatekeeperKind}
	if diff := cmp.Diff(kinds, want); diff != "" {
		t.Fatalf("kinds (-got +want):\n%s", diff)
	}
	vap, binding, kyverno, template, constraint := arts[0].Object, arts[1].Object, arts[2].Object, arts[3].Object, arts[4].Object

	if got, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName"); got != vap.GetName() || got != "guard-host-network" {
		t.Errorf("binding names policy %q, policy is %q", got, vap.GetName())
	}
	if got, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions"); !slices.Equal(got, []string{"Deny"}) {
		t.Errorf("binding validationActions %v, want [Deny]", got)
	}

	// Kyverno writes the rule for every workload kind from the Pod rule.
	autogen := kyverno.GetAnnotations()["pod-policies.kyverno.io/autogen-controllers"]
	if autogen != "ReplicationController,Deployment,ReplicaSet,StatefulSet,DaemonSet,Job,CronJob" {
		t.Errorf("autogen-controllers = %q", autogen)
	}
	rules, _, _ := unstructured.NestedSlice(kyverno.Object, "spec", "rules")
	rule := rules[0].(map[string]any)
	if got, _, _ := unstructured.NestedBool(rule, "validate", "pattern", "spec", "=(hostNetwork)"); got {
		t.Error("Kyverno pattern allows hostNetwork: true")
	}
	if got, _, _ := unstructured.NestedString(rule, "validate", "failureAction"); got != "Enforce" {
		t.Errorf("Kyverno failureAction %q, want Enforce", got)
	}
	excl, _, _ := unstructured.NestedSlice(rule, "exclude", "any")
	wantExcl := []any{
		map[string]any{"resources": map[string]any{"namespaces": []any{"kube-system", "monitoring"}}},
		map[string]any{"resources": map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{DefaultExemptLabel: DefaultExemptValue}}}},
	}
	if diff := cmp.Diff(excl, wantExcl); diff != "" {
		t.Errorf("Kyverno exclusions (-got +want):\n%s", diff)
	}

	// Gatekeeper derives the constraint kind from the template, whose name
	// must be that kind in lower case.
	if kind, _, _ := unstructured.NestedString(template.Object, "spec", "crd", "spec", "names", "kind"); kind != constraint.GetKind() || template.GetName() != strings.ToLower(kind) {
		t.Errorf("template %q declares kind %q; constraint is %q", template.GetName(), kind, constraint.GetKind())
	}
	targets, _, _ := unstructured.NestedSlice(template.Object, "spec", "targets")
	rego := targets[0].(map[string]any)["rego"].(string)
	for _, s := range []string{"violation[", "T1552.005", "input.review.oldObject", "jobTemplate.spec.template.spec.hostNetwork"} {
		if !strings.Contains(rego, s) {
			t.Errorf("rego lacks %q", s)
		}
	}
	if got, _, _ := unstructured.NestedStringSlice(constraint.Object, "spec", "match", "excludedNamespaces"); !slices.Equal(got, o.ExemptNamespaces) {
		t.Errorf("constraint excludedNamespaces %v, want %v", got, o.ExemptNamespaces)
	}

	// Every form names the threat and the way out.
	for _, a := range arts {
		if a.Object.GetKind() == "ValidatingAdmissionPolicyBinding" || a.Object.GetKind() == GatekeeperKind {
			continue
		}
		y := renderArtifacts(t, []Artifact{a})
		for _, s := range []string{"T1552.005", DefaultExemptLabel + "=" + DefaultExemptValue} {
			if !strings.Contains(y, s) {
				t.Errorf("%s does not mention %q", a.File, s)
			}
		}
	}
}

func TestAdmissionWithoutExemptNamespaces(t *testing.T) {
	o := clusterTestOptions()
	o.ExemptNamespaces = nil
	arts, err := Admission(o)
	if err != nil {
		t.Fatal(err)
	}
	y := renderArtifacts(t, arts)
	for _, s := range []string{"kubernetes.io/metadata.name", "excludedNamespaces", "namespaces: []"} {
		if strings.Contains(y, s) {
			t.Errorf("output mentions %q with no exempt namespaces", s)
		}
	}
}
