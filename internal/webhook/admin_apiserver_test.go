package webhook_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

// adminObject decodes one policy written in YAML.
func adminObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestWebhookAdminPolicies has the API server send AdminNetworkPolicies and
// ClusterNetworkPolicies to the webhook: an Admin-tier Allow or Accept that
// opens a metadata address for pods of a guarded namespace is rejected,
// naming the rule and the fix; one that a Deny of the same policy shadows,
// one that selects only an opted-out namespace, and a Baseline-tier Accept
// are admitted.
func TestWebhookAdminPolicies(t *testing.T) {
	env := testenv.Get(t)
	env.InstallUpstreamCRDs(t, "policy.networking.k8s.io_adminnetworkpolicies.yaml", "policy.networking.k8s.io_clusternetworkpolicies.yaml")
	s := serve(t, env, protection.Enforce, webhook.CertOptions{})
	ctx := context.Background()
	ensureNamespace(t, env, "wh-admin-app", nil, nil)
	ensureNamespace(t, env, "wh-admin-optout", map[string]string{"imdsguard.io/metadata-access": "allow"},
		map[string]string{protection.DefaultReasonAnnotation: "the agent reads instance tags"})
	dyn := dynamic.NewForConfigOrDie(env.Config)
	anps := dyn.Resource(schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha1", Resource: "adminnetworkpolicies"})
	cnps := dyn.Resource(schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1alpha2", Resource: "clusternetworkpolicies"})
	var deny []string
	policy := protection.ForClouds(protection.Enforce, nil, nil, nil)
	for _, p := range policy.Generate.DenyPrefixes() {
		deny = append(deny, p.String())
	}
	denyRule := "{name: deny-metadata, action: Deny, to: [{networks: [" + strings.Join(deny, ", ") + "]}]}"

	for _, tc := range []struct {
		what  string
		cnp   bool
		doc   string
		wants []string // empty: admitted
	}{
		{
			what: "an AdminNetworkPolicy that allows everything to every namespace",
			doc: "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: wh-allow-all}\n" +
				"spec: {priority: 5, subject: {namespaces: {}}, egress: [{name: internet, action: Allow, to: [{networks: [0.0.0.0/0]}]}]}",
			wants: []string{"AdminNetworkPolicy wh-allow-all (priority 5) re-opens the cloud metadata service", `"wh-admin-app"`,
				"spec.egress[0] allows", "169.254.169.254:80/TCP", "(network 0.0.0.0/0 contains", "decided before every NetworkPolicy",
				"add a Deny rule whose networks are the metadata addresses (", "169.254.169.254/32", "or narrow the rule's networks"},
		},
		{
			what: "an AdminNetworkPolicy whose Deny comes first",
			doc: "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: wh-deny-then-allow}\n" +
				"spec: {priority: 6, subject: {namespaces: {}}, egress: [" + denyRule + ", {action: Allow, to: [{networks: [0.0.0.0/0, '::/0']}]}]}",
		},
		{
			what: "an AdminNetworkPolicy for an opted-out namespace only",
			doc: "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: wh-agent}\n" +
				"spec: {priority: 7, subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: wh-admin-optout}}}, " +
				"egress: [{action: Allow, to: [{networks: [169.254.169.254/32]}]}]}",
		},
		{
			what: "an Admin tier ClusterNetworkPolicy that accepts the link-local range for some pods of every namespace",
			cnp:  true,
			doc: "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: wh-accept}\n" +
				"spec: {tier: Admin, priority: 3, subject: {pods: {podSelector: {matchLabels: {app: agent}}}}, " +
				"egress: [{action: Accept, to: [{networks: [169.254.0.0/16]}], protocols: [{tcp: {destinationPort: {number: 80}}}]}]}",
			wants: []string{"ClusterNetworkPolicy wh-accept (Admin tier, priority 3) re-opens", "spec.egress[0] allows 169.254.169.254:80/TCP",
				"An admin policy's Accept is decided before every NetworkPolicy"},
		},
		{
			what: "a Baseline tier ClusterNetworkPolicy that accepts everything",
			cnp:  true,
			doc: "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: wh-baseline}\n" +
				"spec: {tier: Baseline, priority: 3, subject: {namespaces: {}}, egress: [{action: Accept, to: [{networks: [0.0.0.0/0]}]}]}",
		},
	} {
		res := anps
		if tc.cnp {
			res = cnps
		}
		_, err := res.Create(ctx, adminObject(t, tc.doc), metav1.CreateOptions{})
		switch {
		case len(tc.wants) == 0 && err != nil:
			t.Errorf("%s: %v, want admitted", tc.what, err)
		case len(tc.wants) > 0 && err == nil:
			t.Errorf("%s: admitted, want denied", tc.what)
		case len(tc.wants) > 0:
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: message %q does not contain %q", tc.what, err.Error(), w)
				}
			}
			t.Logf("%s: %v", tc.what, err)
		}
	}
	for _, r := range []string{"adminnetworkpolicies", "clusternetworkpolicies"} {
		if v := testutil.ToFloat64(s.metrics.WebhookDecisions.WithLabelValues(r, webhook.Denied)); v != 1 {
			t.Errorf("denied %s counted %v, want 1", r, v)
		}
	}
}
