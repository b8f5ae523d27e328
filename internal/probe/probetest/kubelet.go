package probetest

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/probe/pods"
)

// Outcome is what the test kubelet does with a probe pod.
type Outcome int

// Outcomes.
const (
	// RunAgent runs the agent in-process, with the --target and --check
	// arguments of the pod's container, and reports success.
	RunAgent Outcome = iota
	// Fail ends the pod as Failed, with no termination message.
	Fail
	// Garbage ends the pod as Succeeded with a message that is no report.
	Garbage
	// Hang leaves the pod pending, as a node that never runs it would.
	Hang
)

// Kubelet stands in for the kubelet of a test API server: it watches
// probe pods, acts on each as decide says, and writes the result through
// the status subresource. It counts the probe pods that exist at once.
type Kubelet struct {
	t      testing.TB
	client kubernetes.Interface
	decide func(*corev1.Pod) Outcome
	res    *net.Resolver

	mu      sync.Mutex
	seen    []*corev1.Pod
	live    map[string]bool
	maxLive int
}

// StartKubelet starts a test kubelet until the test ends.
func StartKubelet(t testing.TB, client kubernetes.Interface, decide func(*corev1.Pod) Outcome) *Kubelet {
	t.Helper()
	k := &Kubelet{t: t, client: client, decide: decide, res: Resolver(t), live: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = pods.ProbeLabel + "=true"
	}))
	inf := f.Core().V1().Pods().Informer()
	var wg sync.WaitGroup
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			p := obj.(*corev1.Pod)
			k.mu.Lock()
			defer k.mu.Unlock()
			k.seen = append(k.seen, p.DeepCopy())
			k.live[p.Namespace+"/"+p.Name] = true
			k.maxLive = max(k.maxLive, len(k.live))
			wg.Go(func() { k.act(ctx, p.DeepCopy()) })
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				k.mu.Lock()
				delete(k.live, p.Namespace+"/"+p.Name)
				k.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("test kubelet: pod cache did not sync")
	}
	t.Cleanup(func() { cancel(); f.Shutdown(); wg.Wait() })
	return k
}

func (k *Kubelet) act(ctx context.Context, p *corev1.Pod) {
	term := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", FinishedAt: metav1.Now()}
	phase := corev1.PodSucceeded
	switch k.decide(p) {
	case Hang:
		return
	case Fail:
		phase, term.ExitCode, term.Reason = corev1.PodFailed, 1, "Error"
	case Garbage:
		term.Message = "not a report"
	case RunAgent:
		term.Message = k.agent(ctx, p)
	}
	p = p.DeepCopy()
	p.Status.Phase = phase
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: pods.ContainerName, Image: p.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: term}}}
	if _, err := k.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
		k.t.Logf("test kubelet: updating %s/%s: %v", p.Namespace, p.Name, err)
	}
}

// agent runs the agent as the pod's command asks, held to loopback.
func (k *Kubelet) agent(ctx context.Context, p *corev1.Pod) string {
	o := probe.Options{Targets: map[string]string{}, DialTimeout: 300 * time.Millisecond, Timeout: 8 * time.Second,
		Dial: Dial(k.t, k.res), Resolver: k.res}
	for _, a := range p.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--target="); ok {
			id, hp, _ := strings.Cut(v, "=")
			o.Targets[id] = hp
		}
		if v, ok := strings.CutPrefix(a, "--check="); ok {
			o.Only = strings.Split(v, ",")
		}
	}
	for _, c := range probe.Checks() {
		if len(o.Only) > 0 && !slices.Contains(o.Only, c.ID) {
			continue
		}
		if _, ok := o.Targets[c.ID]; !ok {
			if _, ok := o.Targets[c.Endpoint]; !ok {
				k.t.Errorf("test kubelet: pod %s/%s would probe %s at its real address", p.Namespace, p.Name, c.ID)
				return ""
			}
		}
	}
	b, err := probe.Run(ctx, o).Encode()
	if err != nil {
		k.t.Errorf("test kubelet: %v", err)
	}
	return string(b)
}

// Seen returns the probe pods created so far, as created.
func (k *Kubelet) Seen() []*corev1.Pod {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*corev1.Pod(nil), k.seen...)
}

// MaxLive returns the most probe pods that existed at once.
func (k *Kubelet) MaxLive() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxLive
}

// TargetArgs renders targets as the agent's --target arguments.
func TargetArgs(targets map[string]string) []string {
	var out []string
	for id, hp := range targets {
		out = append(out, "--target="+id+"="+hp)
	}
	return out
}
