package pods

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

// EventReason is the reason of the Events recorded for refused requests.
const EventReason = "MetadataRequestRefused"

// Events records a Kubernetes Event on the pod for refused metadata
// requests: at most one per pod and rule in each Interval, so that a pod
// retrying in a loop cannot flood the API server (the metrics and the log
// count every refusal). Recording never blocks the request: refusals wait
// in a bounded queue, and those that find it full are dropped and counted.
type Events struct {
	// Interval is how long a pod and rule stay quiet after an Event.
	Interval time.Duration
	client   *Client
	node     string
	queue    chan server.Refusal
	mu       sync.Mutex
	last     map[eventKey]time.Time
	dropped  int
}

type eventKey struct{ namespace, pod, rule string }

// NewEvents returns a recorder for the proxy on node; Run sends its Events.
func NewEvents(c *Client, node string) *Events {
	return &Events{Interval: 10 * time.Minute, client: c, node: node, queue: make(chan server.Refusal, 256),
		last: map[eventKey]time.Time{}}
}

// Refused is a server.WithRefusals callback.
func (e *Events) Refused(r server.Refusal) {
	k := eventKey{r.Pod.Namespace, r.Pod.Name, r.Rule}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.last[k]; ok && now.Sub(t) < e.Interval {
		return
	}
	select {
	case e.queue <- r:
		e.last[k] = now
	default:
		e.dropped++
	}
	if len(e.last) > 4096 { // forget what is quiet anyway
		for k, t := range e.last {
			if now.Sub(t) >= e.Interval {
				delete(e.last, k)
			}
		}
	}
}

// Dropped is how many Events the full queue turned away.
func (e *Events) Dropped() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}

// Queued is how many Events wait to be sent.
func (e *Events) Queued() int { return len(e.queue) }

// Run sends the queued Events until ctx ends; report sees each failure.
func (e *Events) Run(ctx context.Context, report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-e.queue:
			if err := e.send(ctx, r); err != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}
}

func (e *Events) send(ctx context.Context, r server.Refusal) error {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: r.Pod.Name + ".", Namespace: r.Pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: r.Pod.Namespace,
			Name: r.Pod.Name, UID: types.UID(r.Pod.UID)},
		Reason: EventReason,
		Message: fmt.Sprintf("imdsguard-proxy refused %s %s (rule %s: %s); further refusals by this rule are only counted for %s",
			r.Method, r.Target, r.Rule, r.Detail, e.Interval),
		Type:           corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "imdsguard-proxy", Host: e.node},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	return e.client.rest.Post().Namespace(r.Pod.Namespace).Resource("events").Body(ev).Do(ctx).Error()
}
