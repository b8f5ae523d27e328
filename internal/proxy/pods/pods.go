package pods

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"

	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

const ipIndex = "podIP"

// Index finds pods by address. It implements server.Pods.
type Index struct {
	pods       cache.Indexer
	namespaces cache.Indexer
}

var _ server.Pods = (*Index)(nil)

// Watch starts informers for the pods on node and for namespaces, and
// returns once both are in sync. They stop with ctx.
func Watch(ctx context.Context, c *Client, node string) (*Index, error) {
	if node == "" {
		return nil, errors.New("pods: the node name is required: the proxy watches only its own node's pods")
	}
	podInformer := cache.NewSharedIndexInformer(c.listWatch("pods", fields.OneTermEqualSelector("spec.nodeName", node).String()),
		&corev1.Pod{}, 0, cache.Indexers{ipIndex: podIPs})
	nsInformer := cache.NewSharedIndexInformer(c.listWatch("namespaces", ""), &corev1.Namespace{}, 0, cache.Indexers{})
	// Only what the lookup reads is kept of each object.
	if err := podInformer.SetTransform(slimPod); err != nil {
		return nil, err
	}
	if err := nsInformer.SetTransform(slimNamespace); err != nil {
		return nil, err
	}
	go podInformer.Run(ctx.Done())
	go nsInformer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.HasSynced, nsInformer.HasSynced) {
		return nil, errors.New("pods: the pod and namespace informers did not sync")
	}
	return &Index{pods: podInformer.GetIndexer(), namespaces: nsInformer.GetIndexer()}, nil
}

// podIPs indexes a pod by its addresses. hostNetwork pods share the node's
// address, so they are not indexed: their traffic is not redirected anyway.
func podIPs(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.HostNetwork {
		return nil, nil
	}
	var out []string
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out = append(out, a.String())
		}
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out = append(out, a.String())
		}
	}
	return out, nil
}

func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, Annotations: p.Annotations, ResourceVersion: p.ResourceVersion},
		Spec:       corev1.PodSpec{HostNetwork: p.Spec.HostNetwork, NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP, PodIPs: p.Status.PodIPs},
	}, nil
}

func slimNamespace(obj any) (any, error) {
	n, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Annotations: n.Annotations, ResourceVersion: n.ResourceVersion}}, nil
}

// PodByIP returns the pod that owns ip. An address can be held by a
// finished pod and a new one for a while; a pod that has not finished wins,
// and two such pods (which should not happen) give no answer rather than a
// guess.
func (x *Index) PodByIP(ip netip.Addr) (server.Pod, bool) {
	objs, err := x.pods.ByIndex(ipIndex, ip.Unmap().String())
	if err != nil || len(objs) == 0 {
		return server.Pod{}, false
	}
	var found *corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if found != nil {
			return server.Pod{}, false
		}
		found = p
	}
	if found == nil {
		return server.Pod{}, false
	}
	out := server.Pod{Namespace: found.Namespace, Name: found.Name, UID: string(found.UID), Annotations: found.Annotations}
	if obj, ok, err := x.namespaces.GetByKey(found.Namespace); err == nil && ok {
		out.NamespaceAnnotations = obj.(*corev1.Namespace).Annotations
	}
	return out, true
}

// ErrNoPodCIDR: the Node has no pod CIDR, because the CNI assigns pod
// addresses itself (AWS VPC CNI, Azure CNI).
var ErrNoPodCIDR = errors.New("no pod CIDR (the CNI assigns addresses itself)")

// PodCIDRs returns the pod ranges the cluster assigned to node.
func PodCIDRs(ctx context.Context, c *Client, node string) ([]netip.Prefix, error) {
	n, err := c.node(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("pods: reading node %q: %w", node, err)
	}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("pods: node %q: pod CIDR %q: %w", node, c, err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("pods: node %q: %w", node, ErrNoPodCIDR)
	}
	return out, nil
}
