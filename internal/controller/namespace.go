package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/source/kube"
)

// Event reasons the reconciler records.
const (
	ReasonProtected        = "Protected"
	ReasonRestored         = "PolicyRestored"
	ReasonRemoved          = "PolicyRemoved"
	ReasonUpdated          = "PolicyUpdated"
	ReasonUnprotected      = "Unprotected"
	ReasonOptedOut         = "OptedOut"
	ReasonOptOutRefused    = "OptOutRefused"
	ReasonOptOutEnded      = "OptOutEnded"
	ReasonReopensMetadata  = "ReopensMetadata"
	ReasonTooManySelectors = "TooManySelectors"
	ReasonUnreadablePolicy = "UnreadablePolicy"
)

// NamespaceReconciler keeps the managed protection NetworkPolicies of one
// namespace in the state the generator gives for the namespace's other
// egress policies.
type NamespaceReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Policy   *protection.Policy
	Metrics  *Metrics
	// ClusterWide means an AdminNetworkPolicy (ClusterReconciler) protects
	// the namespaces: per-namespace policies are removed, NetworkPolicies
	// cannot re-open metadata past it, and only hostNetwork pods are
	// exposed.
	ClusterWide bool

	mu     sync.Mutex
	memory map[string]*namespaceMemory
}

var _ reconcile.Reconciler = (*NamespaceReconciler)(nil)

// namespaceMemory is what the reconciler last saw of a namespace, so that
// an Event is recorded once per change rather than once per reconcile. It
// is lost on restart: a new leader reports the current state once.
type namespaceMemory struct {
	// state is the metric state last counted, "" before the first count.
	state string
	// class is the protection state last seen.
	class protection.State
	// present are the managed policies seen in place, to tell a deleted
	// policy from a new namespace.
	present map[string]bool
	// openings maps each re-opening policy to what was reported for it.
	openings map[string]string
	// reopening is the number of re-opening rules last counted.
	reopening int
	// audited are the audit-mode messages recorded.
	audited map[string]bool
}

func (r *NamespaceReconciler) remember(name string) *namespaceMemory {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.memory == nil {
		r.memory = map[string]*namespaceMemory{}
	}
	m := r.memory[name]
	if m == nil {
		m = &namespaceMemory{present: map[string]bool{}, openings: map[string]string{}, audited: map[string]bool{}}
		r.memory[name] = m
	}
	return m
}

// forget drops a namespace that is gone from the metrics and the memory.
func (r *NamespaceReconciler) forget(name string) {
	r.mu.Lock()
	m := r.memory[name]
	delete(r.memory, name)
	r.mu.Unlock()
	if m == nil {
		return
	}
	if m.state != "" {
		r.Metrics.Namespaces.WithLabelValues(m.state).Dec()
	}
	r.Metrics.ReopeningRules.DeleteLabelValues(name)
	r.Metrics.ExposedWorkloads.DeletePartialMatch(map[string]string{"namespace": name})
}

// count moves the namespace to a metric state.
func (r *NamespaceReconciler) count(m *namespaceMemory, state string) {
	if m.state == state {
		return
	}
	if m.state != "" {
		r.Metrics.Namespaces.WithLabelValues(m.state).Dec()
	}
	r.Metrics.Namespaces.WithLabelValues(state).Inc()
	m.state = state
}

// Reconcile brings one namespace to its protection state.
func (r *NamespaceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (ctrl.Result, error) {
	start := time.Now()
	defer func() { r.Metrics.ReconcileDuration.Observe(time.Since(start).Seconds()) }()
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: req.Name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("reading namespace %s: %w", req.Name, err)
	}
	if ns.DeletionTimestamp != nil {
		r.forget(req.Name)
		return ctrl.Result{}, nil
	}
	mem := r.remember(ns.Name)
	class, reason := r.Policy.Classify(ns)
	r.recordClass(ns, mem, class, reason)
	if class == protection.Exempt {
		r.count(mem, metricState(class, false))
		r.setExposure(ns.Name, nil)
		return ctrl.Result{}, nil
	}
	var list networkingv1.NetworkPolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns.Name)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing NetworkPolicies in %s: %w", ns.Name, err)
	}
	managed, others := r.split(list.Items)
	if class == protection.OptedOut {
		r.count(mem, metricState(class, false))
		r.report(ns, mem, nil)
		r.setExposure(ns.Name, nil)
		return ctrl.Result{}, r.removeAll(ctx, mem, managed)
	}
	return r.protect(ctx, ns, mem, class, managed, others)
}

// protect keeps the managed policies of a guarded namespace: none in
// cluster-wide mode, else the complement of the other egress policies.
func (r *NamespaceReconciler) protect(ctx context.Context, ns *corev1.Namespace, mem *namespaceMemory, class protection.State,
	managed map[string]*networkingv1.NetworkPolicy, others []*networkingv1.NetworkPolicy) (ctrl.Result, error) {
	if r.ClusterWide {
		r.report(ns, mem, nil)
		r.count(mem, metricState(class, true))
		if err := r.expose(ctx, ns.Name, nil, nil, nil); err != nil {
			return ctrl.Result{}, err
		}
		_, res, err := r.sync(ctx, mem, nil, managed)
		return res, err
	}
	converted := r.convert(others)
	opens := r.report(ns, mem, converted)
	if err := r.expose(ctx, ns.Name, converted, managed, opens); err != nil {
		return ctrl.Result{}, err
	}
	desired, ok := generate.NamespacePolicies(ns.Name, converted, r.Policy.KeepOpen, &r.Policy.Generate)
	if !ok {
		r.count(mem, metricUnprotected)
		r.once(mem, ns, ReasonTooManySelectors,
			"the egress policies' selectors need too many protection policies to cover the pods they leave out; protect the namespace by hand")
		return ctrl.Result{}, nil
	}
	inPlace, res, err := r.sync(ctx, mem, desired, managed)
	r.count(mem, metricState(class, inPlace))
	return res, err
}

// expose counts the namespace's exposed workloads against the policies
// the cluster holds now; the reconcile that follows a write of the managed
// policies counts again.
func (r *NamespaceReconciler) expose(ctx context.Context, ns string, others []*model.NetworkPolicy, managed map[string]*networkingv1.NetworkPolicy, opens map[*model.NetworkPolicy]bool) error {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing Pods in %s: %w", ns, err)
	}
	policies := append([]*model.NetworkPolicy(nil), others...)
	for _, np := range managed {
		m, _ := kube.ConvertNetworkPolicy(np, model.Source{Cluster: "in-cluster"})
		policies = append(policies, m)
	}
	r.setExposure(ns, exposure(pods.Items, policies, opens, r.ClusterWide))
	return nil
}

// split separates the managed policies from the others.
func (r *NamespaceReconciler) split(items []networkingv1.NetworkPolicy) (managed map[string]*networkingv1.NetworkPolicy, others []*networkingv1.NetworkPolicy) {
	managed = map[string]*networkingv1.NetworkPolicy{}
	for i := range items {
		np := &items[i]
		if generate.IsGenerated(np.Name, np.Labels, &r.Policy.Generate) {
			managed[np.Name] = np
			continue
		}
		others = append(others, np)
	}
	return managed, others
}

// convert turns the other policies into the model the generator and the
// engine read. A policy the converter finds fault with (the API server
// accepted it, so this should not happen) is still used for its pod
// selector, and reported.
func (r *NamespaceReconciler) convert(others []*networkingv1.NetworkPolicy) []*model.NetworkPolicy {
	out := make([]*model.NetworkPolicy, 0, len(others))
	for _, np := range others {
		m, problems := kube.ConvertNetworkPolicy(np, model.Source{Cluster: "in-cluster"})
		if len(problems) > 0 {
			r.Recorder.Eventf(np, nil, corev1.EventTypeWarning, ReasonUnreadablePolicy, "Evaluate",
				"imdsguard cannot evaluate this policy: %s", problems[0])
		}
		out = append(out, m)
	}
	return out
}
