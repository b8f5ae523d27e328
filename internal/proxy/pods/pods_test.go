package pods_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/pods"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func createPod(t *testing.T, env *testenv.Env, ns, name, node, ip string, hostNetwork bool, annotations map[string]string, phase corev1.PodPhase) {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec:       corev1.PodSpec{NodeName: node, HostNetwork: hostNetwork, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	created, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: phase, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if _, err := env.Clientset.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPodByIP(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "pods-agents", Annotations: map[string]string{proxy.DefaultProfileAnnotation: "node-agents"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pods-web"}},
	} {
		if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	createPod(t, env, "pods-agents", "cni", "node-a", "10.244.1.5", false, nil, corev1.PodRunning)
	createPod(t, env, "pods-web", "web", "node-a", "10.244.1.6", false, map[string]string{proxy.DefaultProfileAnnotation: "hostname"}, corev1.PodRunning)
	createPod(t, env, "pods-web", "old", "node-a", "10.244.1.7", false, nil, corev1.PodSucceeded)
	createPod(t, env, "pods-web", "new", "node-a", "10.244.1.7", false, nil, corev1.PodRunning)
	createPod(t, env, "pods-web", "elsewhere", "node-b", "10.244.2.9", false, nil, corev1.PodRunning)
	createPod(t, env, "pods-web", "host", "node-a", "192.168.0.10", true, nil, corev1.PodRunning)

	c, err := pods.NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	x, err := pods.Watch(ctx, c, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip, wantName, wantNSProfile, wantPodProfile string
		found                                       bool
	}{
		{"10.244.1.5", "cni", "node-agents", "", true},
		{"10.244.1.6", "web", "", "hostname", true},
		{"::ffff:10.244.1.6", "web", "", "hostname", true},
		{"10.244.1.7", "new", "", "", true}, // the finished pod that held the address loses
		{"10.244.2.9", "", "", "", false},   // another node's pod
		{"192.168.0.10", "", "", "", false}, // hostNetwork
		{"10.244.1.99", "", "", "", false},
	}
	for _, tc := range tests {
		testenv.Eventually(t, "pod "+tc.ip, func() (bool, string) {
			p, ok := x.PodByIP(netip.MustParseAddr(tc.ip))
			got := p.Name + " " + p.NamespaceAnnotations[proxy.DefaultProfileAnnotation] + " " + p.Annotations[proxy.DefaultProfileAnnotation]
			return ok == tc.found && p.Name == tc.wantName && p.NamespaceAnnotations[proxy.DefaultProfileAnnotation] == tc.wantNSProfile &&
				p.Annotations[proxy.DefaultProfileAnnotation] == tc.wantPodProfile, got
		})
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24", "fd00:10:244:1::/64"}}}
	if _, err := env.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cidrs, err := pods.PodCIDRs(ctx, c, "node-a")
	if err != nil || len(cidrs) != 2 || cidrs[1] != netip.MustParsePrefix("fd00:10:244:1::/64") {
		t.Fatalf("PodCIDRs = %v, %v", cidrs, err)
	}
	// AWS VPC CNI and Azure CNI leave spec.podCIDRs empty: the caller
	// detects the pods' interfaces instead.
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-vpc-cni"}}
	if _, err := env.Clientset.CoreV1().Nodes().Create(ctx, bare, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if cidrs, err := pods.PodCIDRs(ctx, c, "node-vpc-cni"); !errors.Is(err, pods.ErrNoPodCIDR) {
		t.Fatalf("PodCIDRs of a node without any = %v, %v; want ErrNoPodCIDR", cidrs, err)
	}
}
