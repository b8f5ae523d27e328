package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
)

// Decisions, as counted by the metric.
const (
	Allowed = "allowed"
	Denied  = "denied"
	// Warned is a request that enforce mode would deny, admitted with a
	// warning in audit mode.
	Warned = "warned"
	// Failed is a request the webhook could not decide; the API server
	// applies the configuration's failurePolicy.
	Failed = "failed"
)

// Validator decides admission requests for Pods, workloads and
// NetworkPolicies in guarded namespaces.
type Validator struct {
	Policy *protection.Policy
	// Namespaces reads Namespace objects (the manager's cache); Fallback,
	// when set, reads one the cache has not seen yet (a namespace created
	// a moment before its first pod).
	Namespaces, Fallback client.Reader
	// Count, when set, is told each decision.
	Count func(resource, decision string)
}

var _ admission.Handler = (*Validator)(nil)

// Handle admits or denies one request.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	resource := req.Resource.Resource
	resp := v.decide(ctx, req)
	if v.Count != nil {
		v.Count(resource, decision(resp))
	}
	return resp
}

func decision(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code >= http.StatusInternalServerError:
		return Failed
	case !r.Allowed:
		return Denied
	case len(r.Warnings) > 0:
		return Warned
	}
	return Allowed
}

func (v *Validator) decide(ctx context.Context, req admission.Request) admission.Response {
	if len(req.Object.Raw) == 0 {
		return admission.Allowed("")
	}
	check := v.check
	if isAdminRequest(req) {
		// Cluster-scoped: the namespaces it reaches are found by its
		// subject.
		check = func(req admission.Request, raw []byte) (string, error) { return v.adminReopens(ctx, req, raw) }
	} else if req.Namespace == "" {
		return admission.Allowed("")
	} else if resp, guarded := v.guarded(ctx, req.Namespace); !guarded {
		return resp
	}
	problem, err := check(req, req.Object.Raw)
	switch {
	case err != nil:
		return admission.Errored(http.StatusBadRequest, err)
	case problem == "":
		return admission.Allowed("")
	case v.Policy.Mode == protection.Audit:
		return admission.Allowed("").WithWarnings("imdsguard (audit mode, would deny): " + problem)
	}
	// An update of an object that already had the problem (one created
	// before imdsguard, or in an opted-out namespace since opted in) is
	// admitted with a warning: refusing it would block the fix as well as
	// every other change, and the problem is not new. The controller
	// reports such objects.
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, err := check(req, req.OldObject.Raw); err == nil && old != "" {
			return admission.Allowed("").WithWarnings("imdsguard: this object already had this problem before the update, so the update is admitted; fix it: " + problem)
		}
	}
	return admission.Denied(problem)
}

// guarded reads a namespace and reports whether imdsguard guards it; when
// not, resp is the answer to give.
func (v *Validator) guarded(ctx context.Context, name string) (resp admission.Response, guarded bool) {
	ns := &corev1.Namespace{}
	err := v.Namespaces.Get(ctx, client.ObjectKey{Name: name}, ns)
	if apierrors.IsNotFound(err) && v.Fallback != nil {
		err = v.Fallback.Get(ctx, client.ObjectKey{Name: name}, ns)
	}
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("reading namespace %s: %w", name, err)), false
	}
	if state, _ := v.Policy.Classify(ns); !state.Guarded() {
		return admission.Allowed("namespace " + string(state)), false
	}
	return admission.Response{}, true
}

// check finds the problem of one version of the request's object.
func (v *Validator) check(req admission.Request, raw []byte) (string, error) {
	if req.Kind.Kind == "NetworkPolicy" {
		return v.reopens(req, raw)
	}
	return v.hostNetwork(req, raw)
}

// hostNetwork reports a Pod, or a workload's pod template, on the host
// network. Unknown kinds are admitted.
func (v *Validator) hostNetwork(req admission.Request, raw []byte) (string, error) {
	path, ok := templatePaths[req.Kind.Kind]
	if !ok {
		return "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("decoding %s: %w", req.Kind.Kind, err)
	}
	spec := obj
	for _, key := range path {
		next, _ := spec[key].(map[string]any)
		if next == nil {
			return "", nil
		}
		spec = next
	}
	if on, _ := spec["hostNetwork"].(bool); !on {
		return "", nil
	}
	field := strings.Join(append(append([]string(nil), path...), "hostNetwork"), ".")
	return fmt.Sprintf("%s %s/%s sets %s: true in namespace %q, which imdsguard protects. A pod on the host network "+
		"reaches the cloud metadata service (and the node's credentials) as the node does, and no NetworkPolicy applies to it. "+
		"Remove hostNetwork; if the workload truly needs it, run it in an exempt namespace or opt the namespace out "+
		"(%s).",
		req.Kind.Kind, req.Namespace, name(req), field, req.Namespace, v.optOut()), nil
}

// templatePaths locate the pod spec of each kind the webhook checks.
var templatePaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// name is the object's name, or its generateName prefix.
func name(req admission.Request) string {
	if req.Name != "" {
		return req.Name
	}
	var meta struct {
		Metadata struct {
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if json.Unmarshal(req.Object.Raw, &meta) == nil && meta.Metadata.GenerateName != "" {
		return meta.Metadata.GenerateName + "*"
	}
	return "<unnamed>"
}

// reopens reports a NetworkPolicy with an egress rule that opens a
// metadata target, rule by rule, with the fix.
func (v *Validator) reopens(req admission.Request, raw []byte) (string, error) {
	np := &networkingv1.NetworkPolicy{}
	if err := json.Unmarshal(raw, np); err != nil {
		return "", fmt.Errorf("decoding NetworkPolicy: %w", err)
	}
	if np.Namespace == "" {
		np.Namespace = req.Namespace
	}
	m, _ := kube.ConvertNetworkPolicy(np, model.Source{Cluster: "admission"})
	openings := reach.Openings(m, v.Policy.Targets)
	if len(openings) == 0 {
		return "", nil
	}
	return fmt.Sprintf("NetworkPolicy %s/%s re-opens the cloud metadata service in namespace %q, which imdsguard protects: %s. "+
		"NetworkPolicy allows are unioned, so the pods it selects could read the node's credentials whatever other policies say. "+
		"To fix it, %s; or opt the namespace out (%s).",
		np.Namespace, np.Name, req.Namespace, protection.DescribeOpenings(openings), protection.FixHint, v.optOut()), nil
}

// optOut says how a namespace opts out.
func (v *Validator) optOut() string {
	return fmt.Sprintf("label %s=%s and annotation %s with the reason", v.Policy.OptOutLabel, v.Policy.OptOutValue, v.Policy.ReasonAnnotation)
}
