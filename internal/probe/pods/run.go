package pods

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/version"
)

// Options configure Run. Zero values mean the defaults, set in one place:
// withDefaults.
type Options struct {
	// Image runs the agent; its entrypoint must be imdsguard, as the
	// project's image's is (default DefaultImage(version.Get().Version)).
	Image string
	// Args are the container's arguments (default: probe agent, writing to
	// the termination log, then AgentArgs).
	Args      []string
	AgentArgs []string
	// Parallel bounds how many probe pods exist at once (default 4).
	Parallel int
	// PodDeadline bounds one probe pod, from creation to report; it is also
	// the pod's activeDeadlineSeconds (default 2m).
	PodDeadline time.Duration
	// CleanupTimeout bounds the deletions after the run, which happen even
	// when the run's context is cancelled (default 30s).
	CleanupTimeout time.Duration
	Resources      corev1.ResourceRequirements
	// Log gets progress (default: discard).
	Log logr.Logger
	// Done, when set, counts the probes finished so far (reported or
	// failed), for a progress line.
	Done *atomic.Int64
}

// ImageRepository is where the project's image (the repository's
// Dockerfile) is published.
const ImageRepository = "imdsguard/imdsguard"

// DefaultImage is the project's image of this build's version: a release
// vX.Y.Z runs X.Y.Z, the tag the Dockerfile's example builds; any other
// build runs latest.
func DefaultImage(v string) string {
	if semver.MatchString(v) {
		return ImageRepository + ":" + strings.TrimPrefix(v, "v")
	}
	return ImageRepository + ":latest"
}

var semver = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = DefaultImage(version.Get().Version)
	}
	if len(o.Args) == 0 {
		o.Args = append([]string{"probe", "agent", "--termination-log=" + corev1.TerminationMessagePathDefault}, o.AgentArgs...)
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.PodDeadline <= 0 {
		o.PodDeadline = 2 * time.Minute
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 30 * time.Second
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	return o
}

type runner struct {
	client kubernetes.Interface
	o      Options
	run    string
	mu     sync.Mutex
	owners map[string]metav1.OwnerReference
}

// Run probes from one pod per subject, at most Options.Parallel at a time,
// and returns one probe.Probe per subject, in subject order. Every pod it
// creates is deleted before it returns: each after its report, and then
// every pod of the run, by label, in each namespace it used, whatever
// happened to ctx.
func Run(ctx context.Context, client kubernetes.Interface, subjects []Subject, o Options) []probe.Probe {
	r := &runner{client: client, o: o.withDefaults(), run: newRunID(), owners: map[string]metav1.OwnerReference{}}
	defer r.sweep(subjects)
	out := make([]probe.Probe, len(subjects))
	sem := make(chan struct{}, r.o.Parallel)
	var wg sync.WaitGroup
	for i, s := range subjects {
		out[i] = probe.Probe{Object: s.Object, Source: s.Source, HostNetwork: s.HostNetwork}
		wg.Go(func() {
			if r.o.Done != nil {
				defer r.o.Done.Add(1)
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i].Error = "not started: " + ctx.Err().Error()
				return
			}
			defer func() { <-sem }()
			rep, err := r.probeOne(ctx, s)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Report = rep
		})
	}
	wg.Wait()
	return out
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// probeOne creates a subject's pod, waits for its report and deletes it.
func (r *runner) probeOne(ctx context.Context, s Subject) (*probe.Report, error) {
	owner, err := r.owner(ctx, s.Namespace)
	if err != nil {
		return nil, err
	}
	pod := r.podFor(s)
	pod.OwnerReferences = []metav1.OwnerReference{owner}
	created, err := r.client.CoreV1().Pods(s.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating probe pod in %s: %w", s.Namespace, err)
	}
	defer r.delete(s.Namespace, created.Name)
	r.o.Log.V(1).Info("probe pod created", "namespace", s.Namespace, "pod", created.Name, "as", s.Object.String())
	wctx, cancel := context.WithTimeout(ctx, r.o.PodDeadline)
	defer cancel()
	done, err := r.wait(wctx, created)
	if err != nil {
		return nil, fmt.Errorf("probe pod %s/%s: %w", s.Namespace, created.Name, err)
	}
	return report(done)
}

// wait watches the pod until it has terminated. Each round reads the pod
// afresh and watches from its version, so an update between two watches is
// never missed.
func (r *runner) wait(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	pods := r.client.CoreV1().Pods(p.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", p.Name).String()
	for first := true; ; first = false {
		if !first {
			var err error
			if p, err = pods.Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
				return nil, waitError(ctx, err)
			}
		}
		if terminated(p) {
			return p, nil
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: p.ResourceVersion})
		if err != nil {
			return nil, waitError(ctx, err)
		}
		p, err = next(ctx, w, p)
		w.Stop()
		if err != nil || terminated(p) {
			return p, err
		}
	}
}

// watchRetry is the pause before watching again after the server ended a
// watch with an error (a watch cache that is not ready, for one).
const watchRetry = 250 * time.Millisecond

// next reads the watch until the pod terminates, the watch ends or ctx
// ends.
func next(ctx context.Context, w watch.Interface, p *corev1.Pod) (*corev1.Pod, error) {
	for {
		select {
		case <-ctx.Done():
			return p, waitError(ctx, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return p, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return p, errors.New("deleted before it reported")
			case watch.Error:
				t := time.NewTimer(watchRetry)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return p, waitError(ctx, ctx.Err())
				case <-t.C:
				}
				return p, nil
			}
			if np, ok := ev.Object.(*corev1.Pod); ok {
				p = np
				if terminated(p) {
					return p, nil
				}
			}
		}
	}
}

func waitError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errors.New("no report before the deadline")
	}
	if ctx.Err() != nil {
		return errors.New("interrupted before it reported")
	}
	return err
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// report reads the agent's report from the termination message.
func report(p *corev1.Pod) (*probe.Report, error) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != ContainerName || cs.State.Terminated == nil {
			continue
		}
		t := cs.State.Terminated
		if t.Message == "" {
			return nil, fmt.Errorf("probe pod %s/%s: the agent exited %d (%s) without a report", p.Namespace, p.Name, t.ExitCode, t.Reason)
		}
		rep, err := probe.Decode([]byte(t.Message))
		if err != nil {
			return nil, fmt.Errorf("probe pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		return rep, nil
	}
	reason := p.Status.Reason
	if reason == "" {
		reason = string(p.Status.Phase)
	}
	return nil, fmt.Errorf("probe pod %s/%s ended (%s) before the agent ran", p.Namespace, p.Name, reason)
}

// delete removes one pod at once, outliving the run's context.
func (r *runner) delete(ns, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.CleanupTimeout)
	defer cancel()
	err := r.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: to[int64](0)})
	if err != nil && !isNotFound(err) {
		r.o.Log.Error(err, "deleting probe pod", "namespace", ns, "pod", name)
	}
}

// sweep deletes every pod of the run left in the subjects' namespaces: a
// create whose answer was lost, for instance.
func (r *runner) sweep(subjects []Subject) {
	ctx, cancel := context.WithTimeout(context.Background(), r.o.CleanupTimeout)
	defer cancel()
	seen := map[string]bool{}
	var nss []string
	for _, s := range subjects {
		if !seen[s.Namespace] {
			seen[s.Namespace] = true
			nss = append(nss, s.Namespace)
		}
	}
	sort.Strings(nss)
	sel := labels.SelectorFromSet(labels.Set{RunLabel: r.run}).String()
	for _, ns := range nss {
		err := r.client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: to[int64](0)},
			metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			r.o.Log.Error(err, "deleting probe pods", "namespace", ns, "run", r.run)
		}
		err = r.client.CoreV1().ConfigMaps(ns).Delete(ctx, probeNamePrefix+r.run, metav1.DeleteOptions{})
		if err != nil && !isNotFound(err) {
			r.o.Log.Error(err, "deleting the run's owner ConfigMap", "namespace", ns, "run", r.run)
		}
	}
}
