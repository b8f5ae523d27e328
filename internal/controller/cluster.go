package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
)

// ANPKind is the AdminNetworkPolicy's group, version and kind.
var ANPKind = schema.GroupVersionKind{Group: "policy.networking.k8s.io", Version: "v1alpha1", Kind: "AdminNetworkPolicy"}

// ClusterReconciler keeps the one AdminNetworkPolicy that, in cluster-wide
// mode, protects every guarded namespace instead of per-namespace
// policies. Its subject lists the namespaces left out by name: the exempt
// ones and those opted out with a reason. A label selector could not tell an
// opt-out with a reason from one without, so the list is kept by the
// controller as namespaces change.
type ClusterReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Policy   *protection.Policy
	Metrics  *Metrics

	// audited is the spec last reported in audit mode, so that it is
	// reported once (one key, reconciled by one worker).
	audited string
}

var _ reconcile.Reconciler = (*ClusterReconciler)(nil)

// desired builds the AdminNetworkPolicy with the generator and sets its
// subject to the namespaces not left out.
func (r *ClusterReconciler) desired(left []string) (*unstructured.Unstructured, error) {
	o := r.Policy.Generate
	o.ClusterKinds = []string{generate.KindANP}
	arts, err := generate.Cluster(&o)
	if err != nil {
		return nil, err
	}
	anp := arts[0].Object
	sel := map[string]any{}
	if len(left) > 0 {
		sel["matchExpressions"] = []any{map[string]any{"key": model.MetadataNameLabel, "operator": string(metav1.LabelSelectorOpNotIn),
			"values": toAny(left)}}
	}
	if err := unstructured.SetNestedField(anp.Object, sel, "spec", "subject", "namespaces"); err != nil {
		return nil, err
	}
	return anp, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Reconcile brings the AdminNetworkPolicy to the state the namespaces ask
// for, restoring it when it was deleted or edited.
func (r *ClusterReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (ctrl.Result, error) {
	var nss corev1.NamespaceList
	if err := r.Client.List(ctx, &nss); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing namespaces: %w", err)
	}
	left := map[string]bool{}
	for _, n := range r.Policy.ExemptNamespaces {
		left[n] = true
	}
	for i := range nss.Items {
		if state, _ := r.Policy.Classify(&nss.Items[i]); state == protection.OptedOut {
			left[nss.Items[i].Name] = true
		}
	}
	want, err := r.desired(slices.Sorted(maps.Keys(left)))
	if err != nil {
		return ctrl.Result{}, err
	}
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(ANPKind)
	err = r.Client.Get(ctx, client.ObjectKey{Name: want.GetName()}, cur)
	missing := apierrors.IsNotFound(err)
	if err != nil && !missing {
		return ctrl.Result{}, fmt.Errorf("reading AdminNetworkPolicy %s: %w", want.GetName(), err)
	}
	wantSpec := want.Object["spec"]
	if !missing && sameJSON(cur.Object["spec"], wantSpec) && cur.GetLabels()[generate.ManagedByLabel] == generate.ManagedByValue {
		return ctrl.Result{}, nil
	}
	if r.Policy.Mode == protection.Audit {
		if h := hashJSON(wantSpec); h != r.audited {
			r.audited = h
			r.Recorder.Eventf(want, nil, corev1.EventTypeWarning, ReasonUnprotected, "Audit",
				"the AdminNetworkPolicy is missing or differs; in enforce mode imdsguard would write it")
		}
		return ctrl.Result{}, nil
	}
	hash := hashJSON(wantSpec)
	want.SetAnnotations(map[string]string{SpecHashAnnotation: hash})
	if missing {
		err = r.Client.Create(ctx, want)
	} else {
		edited := cur.GetAnnotations()[SpecHashAnnotation] != "" && hashJSON(cur.Object["spec"]) != cur.GetAnnotations()[SpecHashAnnotation]
		cur.Object["spec"] = wantSpec
		labels := cur.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[generate.ManagedByLabel] = generate.ManagedByValue
		cur.SetLabels(labels)
		ann := cur.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[SpecHashAnnotation] = hash
		cur.SetAnnotations(ann)
		if err = r.Client.Update(ctx, cur); err == nil && edited {
			r.Metrics.Restores.WithLabelValues("edited").Inc()
			r.Recorder.Eventf(cur, nil, corev1.EventTypeWarning, ReasonRestored, "Restore",
				"the managed AdminNetworkPolicy was edited; imdsguard restored its spec")
		}
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: requeueSoon}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("writing AdminNetworkPolicy %s: %w", want.GetName(), err)
	}
	log.FromContext(ctx).Info("wrote the managed AdminNetworkPolicy", "name", want.GetName(), "created", missing, "leftOut", len(left))
	return ctrl.Result{}, nil
}

func sameJSON(a, b any) bool { return hashJSON(a) == hashJSON(b) }

// SetupWithManager reconciles the one policy on every Namespace event and
// every event of the policy itself.
func (r *ClusterReconciler) SetupWithManager(mgr manager.Manager) error {
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: "cluster"}}}
	})
	anp := &unstructured.Unstructured{}
	anp.SetGroupVersionKind(ANPKind)
	err := ctrl.NewControllerManagedBy(mgr).
		Named("adminnetworkpolicy").
		Watches(&corev1.Namespace{}, one).
		Watches(anp, one).
		Complete(r)
	if err != nil {
		return fmt.Errorf("setting up the AdminNetworkPolicy controller: %w", err)
	}
	return nil
}
