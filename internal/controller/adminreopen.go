package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/kube"
)

// CNPKind is the ClusterNetworkPolicy's group, version and kind.
var CNPKind = schema.GroupVersionKind{Group: "policy.networking.k8s.io", Version: "v1alpha2", Kind: model.KindClusterNetworkPolicy}

// AdminReopeningReconciler reports the admin policies (AdminNetworkPolicy,
// Admin-tier ClusterNetworkPolicy) whose Allow or Accept rules open a
// metadata target for pods of guarded namespaces: such a rule is decided
// before every NetworkPolicy, so the namespace's protection cannot close
// it. Each is reported with an Event on the policy, once per change, and
// counted in imdsguard_admin_reopening_rules. Like re-opening
// NetworkPolicies, they are never edited: the webhook stops new ones.
type AdminReopeningReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Policy   *protection.Policy
	Metrics  *Metrics
	// Kinds are the admin kinds the API server serves.
	Kinds []schema.GroupVersionKind

	mu sync.Mutex
	// reported maps "Kind/name" to the message last reported for it.
	reported map[string]string
}

var _ reconcile.Reconciler = (*AdminReopeningReconciler)(nil)

// Reconcile looks at every admin policy against the namespaces as they are
// now: one key, so that a namespace change (an opt-out) and a policy change
// are judged alike.
func (r *AdminReopeningReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	var nss corev1.NamespaceList
	if err := r.Client.List(ctx, &nss); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing namespaces: %w", err)
	}
	seen := map[string]bool{}
	for _, gvk := range r.Kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.Client.List(ctx, list); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			key := gvk.Kind + "/" + u.GetName()
			seen[key] = true
			r.judge(u, key, nss.Items)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.reported {
		if !seen[key] {
			delete(r.reported, key)
			kind, name := splitKey(key)
			r.Metrics.AdminReopeningRules.DeleteLabelValues(kind, name)
		}
	}
	return ctrl.Result{}, nil
}

// judge reports one admin policy when what it opens changed.
func (r *AdminReopeningReconciler) judge(u *unstructured.Unstructured, key string, nss []corev1.Namespace) {
	ap, problems := kube.ReadAdminPolicy(u, model.Source{Cluster: "in-cluster"})
	msg, reason, rules := "", ReasonReopensMetadata, 0
	switch {
	case ap == nil:
		reason = ReasonUnreadablePolicy
		msg = "imdsguard cannot evaluate this policy, so it cannot tell whether it re-opens the metadata service: " + problems[0]
	default:
		openings := reach.AdminOpenings(ap, r.Policy.Targets)
		if len(openings) == 0 {
			break
		}
		guarded := r.Policy.GuardedSubjects(ap, nss)
		if len(guarded) == 0 {
			break
		}
		rules = protection.CountRules(openings)
		msg = protection.DescribeAdminReopening(ap, openings, guarded) + ". imdsguard does not edit this policy: " +
			protection.AdminFixHint(r.Policy.Generate.DenyPrefixes())
	}
	kind, name := splitKey(key)
	r.Metrics.AdminReopeningRules.WithLabelValues(kind, name).Set(float64(rules))
	r.mu.Lock()
	prev, known := r.reported[key]
	if r.reported == nil {
		r.reported = map[string]string{}
	}
	r.reported[key] = msg
	r.mu.Unlock()
	if msg == "" || (known && prev == msg) {
		return
	}
	r.Recorder.Eventf(u, nil, corev1.EventTypeWarning, reason, "Evaluate", "%s", msg)
}

func splitKey(key string) (kind, name string) {
	kind, name, _ = strings.Cut(key, "/")
	return kind, name
}

// servedAdminKinds returns the admin kinds the API server serves, at start.
func servedAdminKinds(mgr manager.Manager) ([]schema.GroupVersionKind, error) {
	var out []schema.GroupVersionKind
	for _, gvk := range []schema.GroupVersionKind{ANPKind, CNPKind} {
		_, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
		case err != nil:
			return nil, fmt.Errorf("looking for the %s API: %w", gvk.Kind, err)
		default:
			out = append(out, gvk)
		}
	}
	return out, nil
}

// SetupWithManager judges the admin policies on every Namespace event and
// every event of a served admin kind.
func (r *AdminReopeningReconciler) SetupWithManager(mgr manager.Manager) error {
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: "admin-policies"}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("adminreopening").Watches(&corev1.Namespace{}, one)
	for _, gvk := range r.Kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		b = b.Watches(u, one)
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("setting up the admin policy controller: %w", err)
	}
	return nil
}
