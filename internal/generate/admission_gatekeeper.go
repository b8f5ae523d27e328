package generate

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// GatekeeperKind is the kind of the generated Gatekeeper constraint; the
// template's name must be its lower-case form.
const GatekeeperKind = "K8sImdsguardHostNetwork"

// gatekeeperRego is the template's policy. It is written in the Rego syntax
// every Gatekeeper release accepts (no "if"/"contains" keywords). The
// message is a literal, not built from the object's name: a pod created
// with generateName has none, and an undefined message would drop the
// violation.
const gatekeeperRego = `package k8simdsguardhostnetwork

violation[{"msg": msg}] {
  host_network(input.review.object)
  not had_host_network
  msg := MESSAGE
}

# An update of an object that already had hostNetwork passes, so existing
# workloads and their finalizers are not stuck; the scan reports them.
had_host_network {
  input.review.operation == "UPDATE"
  host_network(input.review.oldObject)
}

host_network(obj) {
  obj.kind == "Pod"
  obj.spec.hostNetwork == true
}

host_network(obj) {
  obj.kind == "CronJob"
  obj.spec.jobTemplate.spec.template.spec.hostNetwork == true
}

host_network(obj) {
  obj.kind != "Pod"
  obj.kind != "CronJob"
  obj.spec.template.spec.hostNetwork == true
}
`

func gatekeeperPolicy(o *Options) ([]Artifact, error) {
	key, value := o.exemptLabel()
	rego := strings.Replace(gatekeeperRego, "MESSAGE", strconv.Quote(admissionMessage(o)), 1)
	template := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "templates.gatekeeper.sh/v1",
		"kind":       "ConstraintTemplate",
		"metadata":   map[string]any{"name": strings.ToLower(GatekeeperKind), "labels": managedByLabels()},
		"spec": map[string]any{
			"crd": map[string]any{"spec": map[string]any{"names": map[string]any{"kind": GatekeeperKind}}},
			"targets": []any{map[string]any{
				"target": "admission.k8s.gatekeeper.sh",
				"rego":   rego,
			}},
		},
	}}
	var kinds []any
	for _, g := range podTemplateKinds {
		kinds = append(kinds, map[string]any{"apiGroups": []any{g.group}, "kinds": stringsToAny(g.kinds)})
	}
	match := map[string]any{
		"kinds": kinds,
		"namespaceSelector": map[string]any{"matchExpressions": []any{map[string]any{
			"key": key, "operator": "NotIn", "values": []any{value},
		}}},
	}
	if len(o.ExemptNamespaces) > 0 {
		match["excludedNamespaces"] = stringsToAny(o.ExemptNamespaces)
	}
	constraint := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "constraints.gatekeeper.sh/v1beta1",
		"kind":       GatekeeperKind,
		"metadata":   map[string]any{"name": admissionName(o), "labels": managedByLabels()},
		"spec": map[string]any{
			"enforcementAction": "deny",
			"match":             match,
		},
	}}
	return []Artifact{
		{Group: GroupAdmission, File: "admission/gatekeeper-constrainttemplate.yaml", Object: template,
			Why: "Gatekeeper's template for rejecting hostNetwork pods and pod templates."},
		{Group: GroupAdmission, File: "admission/gatekeeper-constraint.yaml", Object: constraint,
			Why: "Applies the template to every namespace that is not exempt; apply it once Gatekeeper has created the constraint's CRD from the template."},
	}, nil
}
