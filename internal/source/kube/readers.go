package kube

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The built-in resources read; deploy/rbac/clusterrole.yaml grants list on
// exactly these and the policy CRDs.
var (
	resNamespaces     = resource{"v1", "Namespace", "namespaces", true, true}
	resNodes          = resource{"v1", "Node", "nodes", true, false}
	resPods           = resource{"v1", "Pod", "pods", false, true}
	resRCs            = resource{"v1", "ReplicationController", "replicationcontrollers", false, true}
	resAccounts       = resource{"v1", "ServiceAccount", "serviceaccounts", false, true}
	resDeployments    = resource{"apps/v1", "Deployment", "deployments", false, true}
	resStatefulSets   = resource{"apps/v1", "StatefulSet", "statefulsets", false, true}
	resDaemonSets     = resource{"apps/v1", "DaemonSet", "daemonsets", false, true}
	resReplicaSets    = resource{"apps/v1", "ReplicaSet", "replicasets", false, true}
	resJobs           = resource{"batch/v1", "Job", "jobs", false, true}
	resCronJobs       = resource{"batch/v1", "CronJob", "cronjobs", false, true}
	resNetworkPolices = resource{"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", false, true}
)

// page adapts a typed List call to the pager.
func page[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return list(ctx, o)
	}
}

// each adapts a typed handler to the pager's items.
func each[T any](fn func(*T)) func(runtime.Object) {
	return func(o runtime.Object) {
		if t, ok := any(o).(*T); ok {
			fn(t)
		}
	}
}

// readers returns one function per list.
func (l *loader) readers(groups servedGroups) []func(context.Context) {
	core, apps, batch := l.c.typed.CoreV1(), l.c.typed.AppsV1(), l.c.typed.BatchV1()
	ns := l.opts.Namespace
	out := []func(context.Context){
		func(ctx context.Context) {
			l.list(ctx, resNamespaces, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				if ns != "" {
					o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ns).String()
				}
				return core.Namespaces().List(ctx, o)
			}, each(l.namespaceObj))
		},
		func(ctx context.Context) {
			l.list(ctx, resNodes, page(core.Nodes().List), each(l.node))
		},
		func(ctx context.Context) { l.list(ctx, resPods, page(core.Pods(ns).List), each(l.pod)) },
		func(ctx context.Context) {
			l.list(ctx, resRCs, page(core.ReplicationControllers(ns).List), each(l.replicationController))
		},
		func(ctx context.Context) {
			l.list(ctx, resAccounts, page(core.ServiceAccounts(ns).List), each(l.serviceAccount))
		},
		func(ctx context.Context) {
			l.list(ctx, resDeployments, page(apps.Deployments(ns).List), each(l.deployment))
		},
		func(ctx context.Context) {
			l.list(ctx, resStatefulSets, page(apps.StatefulSets(ns).List), each(l.statefulSet))
		},
		func(ctx context.Context) {
			l.list(ctx, resDaemonSets, page(apps.DaemonSets(ns).List), each(l.daemonSet))
		},
		func(ctx context.Context) {
			l.list(ctx, resReplicaSets, page(apps.ReplicaSets(ns).List), each(l.replicaSet))
		},
		func(ctx context.Context) { l.list(ctx, resJobs, page(batch.Jobs(ns).List), each(l.job)) },
		func(ctx context.Context) { l.list(ctx, resCronJobs, page(batch.CronJobs(ns).List), each(l.cronJob)) },
		func(ctx context.Context) {
			l.list(ctx, resNetworkPolices, page(l.c.typed.NetworkingV1().NetworkPolicies(ns).List), each(l.networkPolicy))
		},
	}
	for _, s := range groups.stubs {
		out = append(out, func(ctx context.Context) { l.listStubs(ctx, s) })
	}
	for _, e := range groups.failed {
		out = append(out, func(context.Context) {
			all := ""
			l.fail(model.ObjectRef{APIVersion: e.group}, &all,
				"cannot discover the resources of API group %s, which may serve policy kinds: %v; verdicts are Unknown", e.group, e.err)
		})
	}
	return out
}

// namespaceObj reads a Namespace. The API server sets the
// kubernetes.io/metadata.name label; it is set here too, as the manifest
// loader does.
func (l *loader) namespaceObj(n *corev1.Namespace) {
	labels := model.Labels{}
	maps.Copy(labels, n.Labels)
	labels[model.MetadataNameLabel] = n.Name
	ns := &model.Namespace{Name: n.Name, Labels: labels, Annotations: model.OwnAnnotations(n.Annotations), Source: l.src, Declared: true}
	l.mu.Lock()
	l.namespaces = append(l.namespaces, ns)
	l.mu.Unlock()
}

func (l *loader) node(n *corev1.Node) {
	labels := model.Labels{}
	maps.Copy(labels, n.Labels)
	node := &model.Node{Name: n.Name, ProviderID: n.Spec.ProviderID, Labels: labels, Source: l.src}
	l.mu.Lock()
	l.nodes = append(l.nodes, node)
	l.mu.Unlock()
}

func (l *loader) serviceAccount(s *corev1.ServiceAccount) {
	sa := &model.ServiceAccount{Ref: model.ObjectRef{APIVersion: "v1", Kind: "ServiceAccount", Namespace: s.Namespace, Name: s.Name},
		Annotations: model.OwnAnnotations(s.Annotations), Source: l.src}
	l.mu.Lock()
	l.accounts = append(l.accounts, sa)
	l.mu.Unlock()
}

// networkPolicy converts a NetworkPolicy. One the engine cannot use is an
// input error and leaves its namespace incomplete, as in the manifest loader.
func (l *loader) networkPolicy(p *networkingv1.NetworkPolicy) {
	np, errs := ConvertNetworkPolicy(p, l.src)
	if len(errs) > 0 {
		for i, msg := range errs {
			var scope *string
			if i == 0 {
				scope = &np.Ref.Namespace
			}
			l.fail(np.Ref, scope, "%s", msg)
		}
		return
	}
	l.mu.Lock()
	l.policies = append(l.policies, np)
	l.mu.Unlock()
}
