package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

// notCachedYet is a cache that has not seen any namespace yet.
type notCachedYet struct{ client.Reader }

func (notCachedYet) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, key.Name)
}

// TestNamespaceNotCachedYet: a pod created right after its namespace may
// reach the webhook before the cache has the namespace; the webhook then
// reads it from the API server instead of failing the request (which, with
// failurePolicy Fail, would refuse the pod for no reason).
func TestNamespaceNotCachedYet(t *testing.T) {
	env := testenv.Get(t)
	ensureNamespace(t, env, "wh-fresh", nil, nil)
	live, err := client.New(env.Config, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	policy := protection.ForClouds(protection.Enforce, nil, nil, []string{"kube-system"})
	raw, err := json.Marshal(pod("wh-fresh", "host", true))
	if err != nil {
		t.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Namespace: "wh-fresh", Name: "host", Operation: admissionv1.Create,
		Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Object:   runtime.RawExtension{Raw: raw},
	}}
	v := &webhook.Validator{Policy: &policy, Namespaces: notCachedYet{}, Fallback: live}
	resp := v.Handle(context.Background(), req)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "hostNetwork") {
		t.Errorf("with the fallback: allowed %v, result %+v; want denied for hostNetwork", resp.Allowed, resp.Result)
	}
	v.Fallback = nil
	resp = v.Handle(context.Background(), req)
	if resp.Result == nil || resp.Result.Code != http.StatusInternalServerError {
		t.Errorf("without the fallback: %+v, want an internal error (the case the fallback exists for)", resp.Result)
	}
}
