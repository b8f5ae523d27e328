package generate

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// podTemplateKinds are the workload kinds whose pod template the admission
// policies check, by API group, with their resource names.
var podTemplateKinds = []struct {
	group, version string
	kinds          []string
	resources      []string
}{
	{"", "v1", []string{"Pod", "ReplicationController"}, []string{"pods", "replicationcontrollers"}},
	{"apps", "v1", []string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}, []string{"deployments", "replicasets", "statefulsets", "daemonsets"}},
	{"batch", "v1", []string{"Job", "CronJob"}, []string{"jobs", "cronjobs"}},
}

// admissionName is the name of the generated admission objects.
func admissionName(o *Options) string { return o.name() + "-host-network" }

// admissionMessage is what a rejected request reads.
func admissionMessage(o *Options) string {
	key, value := o.exemptLabel()
	return fmt.Sprintf("imdsguard: hostNetwork is not allowed here. A pod on the node's network reaches the cloud "+
		"instance metadata service and the node's credentials (MITRE ATT&CK T1552.005), and no NetworkPolicy applies to it. "+
		"To allow it, label the namespace %s=%s.", key, value)
}

// Admission builds the policies that reject hostNetwork pods and pod
// templates outside the exempt namespaces: a ValidatingAdmissionPolicy and
// its binding, a Kyverno ClusterPolicy, and a Gatekeeper ConstraintTemplate
// and Constraint. Each rejects creating such an object and turning
// hostNetwork on in an update; an update of an object that already had
// hostNetwork is let through, so existing workloads (and their finalizers)
// are not stuck. The scan reports those.
func Admission(o *Options) ([]Artifact, error) {
	var out []Artifact
	for _, build := range []func(*Options) ([]Artifact, error){validatingAdmissionPolicy, kyvernoPolicy, gatekeeperPolicy} {
		as, err := build(o)
		if err != nil {
			return nil, fmt.Errorf("admission policies: %w", err)
		}
		out = append(out, as...)
	}
	return out, nil
}

// hostNetworkCEL is a CEL expression that is true when the object under
// root (object or oldObject) is a pod, or holds a pod template, with
// hostNetwork set.
func hostNetworkCEL(root string) string {
	on := func(spec string) string {
		return fmt.Sprintf("(has(%[1]s.hostNetwork) && %[1]s.hostNetwork == true)", spec)
	}
	return fmt.Sprintf("%[1]s.kind == 'Pod' ? %[2]s : "+
		"%[1]s.kind == 'CronJob' ? (has(%[1]s.spec.jobTemplate.spec.template.spec) && %[3]s) : "+
		"(has(%[1]s.spec.template) && has(%[1]s.spec.template.spec) && %[4]s)",
		root, on(root+".spec"), on(root+".spec.jobTemplate.spec.template.spec"), on(root+".spec.template.spec"))
}

func validatingAdmissionPolicy(o *Options) ([]Artifact, error) {
	name := admissionName(o)
	fail := admissionregistrationv1.Fail
	equivalent := admissionregistrationv1.Equivalent
	var rules []admissionregistrationv1.NamedRuleWithOperations
	for _, g := range podTemplateKinds {
		rules = append(rules, admissionregistrationv1.NamedRuleWithOperations{
			RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{g.group}, APIVersions: []string{g.version}, Resources: g.resources,
				},
			},
		})
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: managedByLabel},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: rules,
				MatchPolicy:   &equivalent,
			},
			Variables: []admissionregistrationv1.Variable{
				{Name: "hostNetwork", Expression: hostNetworkCEL("object")},
				{Name: "hadHostNetwork", Expression: "request.operation == 'UPDATE' && oldObject != null && (" + hostNetworkCEL("oldObject") + ")"},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "!variables.hostNetwork || variables.hadHostNetwork",
				Message:    admissionMessage(o),
				Reason:     ptrTo(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: managedByLabel},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: ExemptNamespaceSelector(o)},
		},
	}
	p, err := typedArtifact("admission/validatingadmissionpolicy.yaml", policy,
		"Rejects hostNetwork pods and pod templates outside the exempt namespaces (Kubernetes 1.30 and later, no webhook needed).")
	if err != nil {
		return nil, err
	}
	b, err := typedArtifact("admission/validatingadmissionpolicybinding.yaml", binding,
		"Binds the policy to every namespace that is not exempt, by name or by label.")
	if err != nil {
		return nil, err
	}
	out := append(p, b...)
	for i := range out {
		out[i].Group = GroupAdmission
	}
	return out, nil
}

func kyvernoPolicy(o *Options) ([]Artifact, error) {
	key, value := o.exemptLabel()
	exclude := []any{
		map[string]any{"resources": map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{key: value}}}},
	}
	if len(o.ExemptNamespaces) > 0 {
		exclude = append([]any{map[string]any{"resources": map[string]any{"namespaces": stringsToAny(o.ExemptNamespaces)}}}, exclude...)
	}
	var controllers []string
	for _, g := range podTemplateKinds {
		for _, k := range g.kinds {
			if k != "Pod" {
				controllers = append(controllers, k)
			}
		}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kyverno.io/v1",
		"kind":       "ClusterPolicy",
		"metadata": map[string]any{
			"name":   admissionName(o),
			"labels": managedByLabels(),
			"annotations": map[string]any{
				"policies.kyverno.io/title":    "Disallow hostNetwork (cloud metadata access)",
				"policies.kyverno.io/category": "imdsguard",
				"policies.kyverno.io/severity": "high",
				"policies.kyverno.io/subject":  "Pod",
				// Kyverno writes the same rule for each controller's pod template.
				"pod-policies.kyverno.io/autogen-controllers": strings.Join(controllers, ","),
			},
		},
		"spec": map[string]any{
			"background": true,
			"rules": []any{map[string]any{
				"name": "deny-host-network",
				"match": map[string]any{"any": []any{map[string]any{"resources": map[string]any{
					"kinds": []any{"Pod"}, "operations": []any{"CREATE", "UPDATE"},
				}}}},
				"exclude": map[string]any{"any": exclude},
				"validate": map[string]any{
					"failureAction": "Enforce",
					// An update of an object that already broke the rule passes.
					"allowExistingViolations": true,
					"message":                 admissionMessage(o),
					"pattern":                 map[string]any{"spec": map[string]any{"=(hostNetwork)": false}},
				},
			}},
		},
	}}
	return []Artifact{{Group: GroupAdmission, File: "admission/kyverno-clusterpolicy.yaml", Object: u,
		Why: "Kyverno (1.13 and later) rejects hostNetwork pods outside the exempt namespaces; autogen extends the rule to every workload's pod template."}}, nil
}

// ptrTo returns a pointer to v.
func ptrTo[T any](v T) *T { return &v }
