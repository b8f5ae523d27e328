//go:build liveperf

package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// Sizes of the cluster TestLivePerf builds (issue #3 §4).
const (
	perfNamespaces  = 2000
	perfPodsPerNS   = 10
	perfPolicyPerNS = 2
)

// TestLivePerf times a live scan against `kubectl get namespaces,pods,
// networkpolicies -A -o json` on the same API server, and reports both
// processes' peak memory. It takes minutes, so it is built only with the
// liveperf tag (hack/liveperf.sh).
func TestLivePerf(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("%v (run WITH_KUBECTL=1 hack/controlplane.sh)", err)
	}
	env := testenv.Start(t)
	start := time.Now()
	populate(t, env.Config)
	t.Logf("created %d namespaces, %d pods, %d NetworkPolicies in %v", perfNamespaces, perfNamespaces*perfPodsPerNS,
		perfNamespaces*perfPolicyPerNS, time.Since(start).Round(time.Second))

	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	c := env.Config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["perf"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["perf"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData}
	cfg.Contexts["perf"] = &clientcmdapi.Context{Cluster: "perf", AuthInfo: "perf"}
	cfg.CurrentContext = "perf"
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "imdsguard")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/imdsguard/imdsguard/cmd/imdsguard").CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	commands := map[string][]string{
		"kubectl": {kubectl, "--kubeconfig", kc, "get", "namespaces,pods,networkpolicies", "-A", "-o", "json"},
		"scan":    {bin, "scan", "--kubeconfig", kc, "-A", "-f", "json", "--fail-on", "none"},
	}
	times := map[string][]time.Duration{}
	rss := map[string]int64{}
	const runs = 5
	for i := range runs {
		for _, name := range []string{"kubectl", "scan"} {
			d, kb, out := timeCommand(t, commands[name])
			if i == 0 {
				checkOutput(t, name, out)
				continue // warm-up
			}
			times[name] = append(times[name], d)
			rss[name] = max(rss[name], kb)
		}
	}
	k, s := median(times["kubectl"]), median(times["scan"])
	report := fmt.Sprintf("| kubectl get namespaces,pods,networkpolicies -A -o json | %v | %d MiB |\n| imdsguard scan -A -f json | %v | %d MiB |\n\nratio scan/kubectl: %.2f (median of %d runs after a warm-up)\n",
		k.Round(time.Millisecond), rss["kubectl"]/1024, s.Round(time.Millisecond), rss["scan"]/1024, float64(s)/float64(k), runs-1)
	t.Log("\n" + report)
	if out := os.Getenv("IMDSGUARD_LIVE_PERF_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// timeCommand runs a command with its output discarded and returns its
// wall time and peak RSS in KiB.
func timeCommand(t *testing.T, argv []string) (time.Duration, int64, []byte) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%.2000s", argv, err, out)
	}
	d := time.Since(start)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		return d, 0, out
	}
	return d, ru.Maxrss, out
}

// checkOutput makes sure both commands saw every object: the pods fold
// into three inferred ReplicaSets per namespace.
func checkOutput(t *testing.T, name string, out []byte) {
	t.Helper()
	var doc struct {
		Items   []json.RawMessage `json:"items"`
		Summary struct {
			Workloads  int `json:"workloads"`
			Namespaces int `json:"namespaces"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want := perfNamespaces * (1 + perfPodsPerNS + perfPolicyPerNS)
	got := len(doc.Items)
	if name == "scan" {
		want, got = perfNamespaces*3, doc.Summary.Workloads
	}
	if got < want {
		t.Errorf("%s saw %d objects or workloads, want at least %d", name, got, want)
	}
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// populate creates the namespaces, pods and policies with 32 workers.
// Pods belong to ReplicaSets that do not exist, as after a controller
// outage; they stay Pending, since no scheduler or kubelet runs.
func populate(t *testing.T, admin *rest.Config) {
	t.Helper()
	c := rest.CopyConfig(admin)
	c.QPS, c.Burst = -1, 0
	cs := kubernetes.NewForConfigOrDie(c)
	ctx := context.Background()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				if err := populateNamespace(ctx, cs, i); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range perfNamespaces {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

func populateNamespace(ctx context.Context, cs kubernetes.Interface, i int) error {
	ns := fmt.Sprintf("team-%04d", i)
	opts := metav1.CreateOptions{}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"team": fmt.Sprint(i % 50)}}}, opts); err != nil {
		return err
	}
	yes := true
	for p := range perfPodsPerNS {
		app := fmt.Sprintf("app-%d", p%3)
		rs := app + "-5d8f7c9b8"
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", rs, p), Namespace: ns,
				Labels: map[string]string{"app": app, "pod-template-hash": "5d8f7c9b8"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs,
					UID: "00000000-0000-0000-0000-000000000001", Controller: &yes}}},
			Spec: corev1.PodSpec{HostNetwork: p == 9, ServiceAccountName: "default",
				Containers: []corev1.Container{{Name: "main", Image: "registry.example.com/app:1.0",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, opts); err != nil {
			return err
		}
	}
	udp := corev1.ProtocolUDP
	policies := []*networkingv1.NetworkPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "deny-metadata", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"169.254.169.254/32"}}}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "allow-dns", Namespace: ns}, Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "app-1"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: ptrIntOrString(53)}}}}}},
	}
	for _, np := range policies[:perfPolicyPerNS] {
		if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, opts); err != nil {
			return err
		}
	}
	return nil
}

func ptrIntOrString(n int32) *intstr.IntOrString {
	v := intstr.FromInt32(n)
	return &v
}
