package pods_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/pods"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestRefusalEvents runs the proxy's handler on loopback with the pod
// index and the Event recorder against the real API server: a refused
// request from a pod becomes one Warning Event on that pod, naming the rule
// and the path; the same rule again stays quiet; another rule gets its own.
// Nothing reaches an upstream (there is none).
func TestRefusalEvents(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pods-events"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The test's requests come from 127.0.0.1, so that is the pod's address.
	createPod(t, env, "pods-events", "thief", "node-e", "127.0.0.1", false, nil, corev1.PodRunning)
	c, err := pods.NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	x, err := pods.Watch(ctx, c, "node-e")
	if err != nil {
		t.Fatal(err)
	}
	ev := pods.NewEvents(c, "node-e")
	errs := make(chan error, 8)
	go ev.Run(ctx, func(err error) { errs <- err })
	policy, err := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(server.New(policy, server.WithPods(x), server.WithRefusals(ev.Refused)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	get := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+path, nil)
		req.Host = "169.254.169.254"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status %d, want 403", path, resp.StatusCode)
		}
	}
	for range 3 {
		get("/latest/meta-data/iam/security-credentials/role")
	}
	get("/latest/user-data")

	var events []corev1.Event
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		list, err := env.Clientset.CoreV1().Events("pods-events").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if events = list.Items; len(events) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a third Event, if wrongly sent, would be here by now
	list, err := env.Clientset.CoreV1().Events("pods-events").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events = list.Items
	select {
	case err := <-errs:
		t.Fatalf("recording an Event: %v", err)
	default:
	}
	if len(events) != 2 {
		t.Fatalf("%d Events, want 2 (one per rule): %+v", len(events), events)
	}
	pod, err := env.Clientset.CoreV1().Pods("pods-events").Get(ctx, "thief", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, e := range events {
		if e.Reason != pods.EventReason || e.Type != corev1.EventTypeWarning || e.InvolvedObject.Name != "thief" ||
			e.InvolvedObject.UID != pod.UID || e.Source.Host != "node-e" {
			t.Errorf("event %+v", e)
		}
		messages = append(messages, e.Message)
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{"/latest/meta-data/iam/security-credentials/role", "/latest/user-data", "rule "} {
		if !strings.Contains(all, want) {
			t.Errorf("messages %q do not name %q", all, want)
		}
	}
}

// TestRefusalEventsNeverBlock: with nothing sending, a full queue drops
// refusals (counted) instead of holding up the request.
func TestRefusalEventsNeverBlock(t *testing.T) {
	ev := pods.NewEvents(nil, "node")
	done := make(chan struct{})
	go func() {
		for i := range 300 {
			ev.Refused(server.Refusal{Pod: server.Pod{Namespace: "ns", Name: "p" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))}, Rule: "r"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Refused blocked")
	}
	if got := ev.Dropped(); got != 300-256 {
		t.Fatalf("dropped %d, want %d", got, 300-256)
	}
}

// TestRefusalEventsInterval: within Interval a pod and rule queue one Event;
// another rule or another pod queues its own; with no Interval every refusal
// does. Nothing sends, so the queue shows what would be sent.
func TestRefusalEventsInterval(t *testing.T) {
	refuse := func(ev *pods.Events, pod, rule string) {
		ev.Refused(server.Refusal{Pod: server.Pod{Namespace: "ns", Name: pod}, Rule: rule})
	}
	for _, tc := range []struct {
		interval time.Duration
		want     int
	}{{10 * time.Minute, 3}, {0, 5}} {
		ev := pods.NewEvents(nil, "node")
		ev.Interval = tc.interval
		refuse(ev, "a", "r1")
		refuse(ev, "a", "r1")
		refuse(ev, "a", "r1")
		refuse(ev, "a", "r2")
		refuse(ev, "b", "r1")
		if got := ev.Queued(); got != tc.want {
			t.Errorf("interval %s: %d queued, want %d", tc.interval, got, tc.want)
		}
	}
}
