package webhook

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
)

// isAdminRequest reports whether a request is for an admin policy kind the
// engine evaluates (AdminNetworkPolicy v1alpha1, ClusterNetworkPolicy
// v1alpha2). Other versions are admitted unread.
func isAdminRequest(req admission.Request) bool {
	k := req.Kind
	return k.Group == "policy.networking.k8s.io" && kube.IsAdminPolicy(k.Group+"/"+k.Version, k.Kind)
}

// adminReopens reports an Admin-tier policy with an Allow or Accept rule
// that opens a metadata target for pods in guarded namespaces, rule by
// rule, with the fix. The policy is judged by itself, as a NetworkPolicy
// is: an admin policy of higher precedence that denies first is not
// looked for.
func (v *Validator) adminReopens(ctx context.Context, req admission.Request, raw []byte) (string, error) {
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return "", fmt.Errorf("decoding %s: %w", req.Kind.Kind, err)
	}
	ap, _ := kube.ReadAdminPolicy(u, model.Source{Cluster: "admission"})
	if ap == nil {
		// The API server's CRD accepted it, so the reader is older than
		// the CRD (a newer field); admission is not the place to fail for
		// that, and the controller reports the policy as unreadable.
		return "", nil
	}
	openings := reach.AdminOpenings(ap, v.Policy.Targets)
	if len(openings) == 0 {
		return "", nil
	}
	var nss corev1.NamespaceList
	if err := v.Namespaces.List(ctx, &nss); err != nil {
		return "", fmt.Errorf("listing namespaces: %w", err)
	}
	guarded := v.Policy.GuardedSubjects(ap, nss.Items)
	if len(guarded) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%s. An admin policy's %s is decided before every NetworkPolicy, so no namespace policy can close it. "+
		"To fix it, %s (%s).",
		protection.DescribeAdminReopening(ap, openings, guarded), allowWord(ap), protection.AdminFixHint(v.Policy.Generate.DenyPrefixes()), v.optOut()), nil
}

// allowWord is the kind's name for the rule action that lets traffic out.
func allowWord(ap *model.AdminPolicy) string {
	if ap.ClusterNetworkPolicy() {
		return "Accept"
	}
	return "Allow"
}
