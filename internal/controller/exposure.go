package controller

import (
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Causes of exposure, the cause label of imdsguard_exposed_workloads.
const (
	causeHostNetwork = "host_network"
	causeReopened    = "reopened"
	causeUnprotected = "unprotected"
)

var exposureCauses = []string{causeHostNetwork, causeReopened, causeUnprotected}

// exposure counts the workloads of a namespace that can reach a metadata
// target, by cause, with NetworkPolicy's egress semantics: a pod on the
// host network escapes every policy; a pod that no egress policy selects
// may go anywhere; a pod that a policy opening a metadata target selects
// is let through by that policy, whatever the others say (allows are
// unioned). A workload is a pod's controller (a Deployment for the
// ReplicaSets it owns), or the pod itself; it counts once, under the first
// cause found of host_network, reopened, unprotected.
// With clusterWide an AdminNetworkPolicy denies metadata ahead of every
// NetworkPolicy, so only host_network counts.
func exposure(pods []corev1.Pod, policies []*model.NetworkPolicy, opens map[*model.NetworkPolicy]bool, clusterWide bool) map[string]int {
	rank := map[string]int{}
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		cause := podExposure(p, policies, opens)
		if clusterWide && cause != causeHostNetwork {
			cause = ""
		}
		if cause == "" {
			continue
		}
		w := workloadOf(p)
		if prev, ok := rank[w]; !ok || causeRank(cause) < prev {
			rank[w] = causeRank(cause)
		}
	}
	out := map[string]int{}
	for _, r := range rank {
		out[exposureCauses[r]]++
	}
	return out
}

func causeRank(c string) int {
	for i, x := range exposureCauses {
		if x == c {
			return i
		}
	}
	return len(exposureCauses)
}

func podExposure(p *corev1.Pod, policies []*model.NetworkPolicy, opens map[*model.NetworkPolicy]bool) string {
	if p.Spec.HostNetwork {
		return causeHostNetwork
	}
	selected := false
	for _, np := range policies {
		if !np.Egress || !np.PodSelector.Matches(model.Labels(p.Labels)) {
			continue
		}
		if opens[np] {
			return causeReopened
		}
		selected = true
	}
	if !selected {
		return causeUnprotected
	}
	return ""
}

// workloadOf names the workload a pod belongs to.
func workloadOf(p *corev1.Pod) string {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return "Pod/" + p.Name
	}
	if ref.Kind == "ReplicaSet" {
		if hash := p.Labels["pod-template-hash"]; hash != "" {
			if d, ok := strings.CutSuffix(ref.Name, "-"+hash); ok {
				return "Deployment/" + d
			}
		}
	}
	return ref.Kind + "/" + ref.Name
}

// podChanged lets through the Pod events that can change exposure:
// creation, deletion, and a change of labels (hostNetwork is immutable).
var podChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// slimPod keeps of a Pod only what exposure reads, so that the cache of
// every Pod in the cluster stays small.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, OwnerReferences: p.OwnerReferences, DeletionTimestamp: p.DeletionTimestamp},
		Spec:   corev1.PodSpec{HostNetwork: p.Spec.HostNetwork},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}, nil
}

// setExposure publishes a namespace's exposed workloads; nil clears them.
func (r *NamespaceReconciler) setExposure(ns string, counts map[string]int) {
	if counts == nil {
		r.Metrics.ExposedWorkloads.DeletePartialMatch(map[string]string{"namespace": ns})
		return
	}
	for _, c := range exposureCauses {
		r.Metrics.ExposedWorkloads.WithLabelValues(ns, c).Set(float64(counts[c]))
	}
}
