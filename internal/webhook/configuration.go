package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Path is where the validating webhook is served.
const Path = "/validate"

// WebhookName is the name of the configuration's one webhook.
const WebhookName = "validate.imdsguard.io"

// Configuration returns the ValidatingWebhookConfiguration that sends the
// webhook every create and update of Pods, workloads, NetworkPolicies
// and the admin policy kinds (AdminNetworkPolicy, ClusterNetworkPolicy),
// except in the excluded namespaces (kube-system and the controller's own
// namespace at least, so that neither can be locked out by the webhook).
// The CA bundle is left empty: Certs injects it.
func Configuration(name string, cc admissionregistrationv1.WebhookClientConfig, exclude []string, failurePolicy admissionregistrationv1.FailurePolicyType) *admissionregistrationv1.ValidatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	scope := admissionregistrationv1.NamespacedScope
	timeout := int32(5)
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources, Scope: &scope}}
	}
	// The admin policy kinds are cluster-scoped: the namespace selector
	// never skips them, and their subject says which namespaces they reach.
	clusterScope := admissionregistrationv1.ClusterScope
	admin := func(version, resource string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"policy.networking.k8s.io"}, APIVersions: []string{version}, Resources: []string{resource}, Scope: &clusterScope}}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "imdsguard"}},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:         WebhookName,
			ClientConfig: cc,
			Rules: []admissionregistrationv1.RuleWithOperations{
				rule("", "pods", "podtemplates", "replicationcontrollers"),
				rule("apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
				rule("batch", "jobs", "cronjobs"),
				rule("networking.k8s.io", "networkpolicies"),
				admin("v1alpha1", "adminnetworkpolicies"),
				admin("v1alpha2", "clusternetworkpolicies"),
			},
			FailurePolicy: &failurePolicy,
			MatchPolicy:   &equivalent,
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: model.MetadataNameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: exclude}}},
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}
