package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func required(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// placementCases are pod specs with node selectors and required node
// affinity; "bad-" ones are refused by the API server.
func placementCases() map[string]corev1.PodSpec {
	const ng = "eks.amazonaws.com/nodegroup"
	return map[string]corev1.PodSpec{
		"none":          {},
		"node-selector": {NodeSelector: map[string]string{ng: "secure", "kubernetes.io/os": "linux"}},
		"every-operator": {Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			expr(ng, corev1.NodeSelectorOpIn, "a", "b"), expr("gpu", corev1.NodeSelectorOpNotIn, "yes"),
			expr("zone", corev1.NodeSelectorOpExists), expr("spot", corev1.NodeSelectorOpDoesNotExist),
			expr("cores", corev1.NodeSelectorOpGt, "4"), expr("mem", corev1.NodeSelectorOpLt, "64"),
		}})},
		"fields-and-terms": {NodeSelector: map[string]string{"a": "b"}, Affinity: required(
			corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "node-1")}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr(ng, corev1.NodeSelectorOpIn, "c")}},
		)},
		"preferred-only": {Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			{Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("a", corev1.NodeSelectorOpExists)}}}}}}},
		"bad-no-terms":         {Affinity: required()},
		"bad-in-without-value": {Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("a", corev1.NodeSelectorOpIn)}})},
		"bad-exists-value":     {Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("a", corev1.NodeSelectorOpExists, "x")}})},
		"bad-gt-two-values":    {Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("a", corev1.NodeSelectorOpGt, "1", "2")}})},
		"bad-operator":         {Affinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("a", "Near", "x")}})},
		"bad-field-key":        {Affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.uid", corev1.NodeSelectorOpIn, "x")}})},
		"bad-field-operator":   {Affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpExists)}})},
		"bad-field-two-values": {Affinity: required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr("metadata.name", corev1.NodeSelectorOpIn, "a", "b")}})},
	}
}

// TestPlacementMatchesManifest is a differential test of where a pod may
// run: each pod spec is offered to a real API server (dry run), written as
// YAML for the manifest loader, and read by the live loader. The API server
// and the manifest loader must refuse the same specs, and the two loaders
// must read the others alike.
func TestPlacementMatchesManifest(t *testing.T) {
	env := testenv.Get(t)
	dir := t.TempDir()
	l := &loader{src: model.Source{Cluster: "c"}}
	for name, spec := range placementCases() {
		t.Run(name, func(t *testing.T) {
			spec.Containers = []corev1.Container{{Name: "app", Image: "app"}}
			p := &corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
				Spec:       spec,
			}
			_, apiErr := env.Clientset.CoreV1().Pods("default").Create(context.Background(), p,
				metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			res := manifest.Load(context.Background(), []string{writeYAML(t, dir, name, p)}, manifest.Options{})
			bad := strings.HasPrefix(name, "bad-")
			if (apiErr != nil) != bad {
				t.Fatalf("API server: %v, want refused = %t", apiErr, bad)
			}
			if (len(res.Errors) > 0) != bad {
				t.Fatalf("manifest loader errors %v, want errors = %t", res.Errors, bad)
			}
			if bad {
				// The object is not read, and its namespace is incomplete.
				if len(res.Inventory.Workloads) != 0 || len(res.Inventory.Incomplete["default"]) == 0 {
					t.Errorf("a refused pod was read: %d workloads, incomplete %v", len(res.Inventory.Workloads), res.Inventory.Incomplete)
				}
				return
			}
			if len(res.Inventory.Workloads) != 1 || len(res.Inventory.Workloads[0].Templates) != 1 {
				t.Fatalf("manifest loader read %d workloads", len(res.Inventory.Workloads))
			}
			want := res.Inventory.Workloads[0].Templates[0]
			if diff := cmp.Diff(l.template(p.Labels, &p.Spec), want, modelOpts...); diff != "" {
				t.Errorf("templates differ (-live +manifest):\n%s", diff)
			}
		})
	}
}
