package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/imdsguard/imdsguard/internal/protection"
)

// requeueSoon retries a write that raced with another (the cache had not
// seen the object yet, or someone changed it meanwhile).
const requeueSoon = 200 * time.Millisecond

// sync makes the managed policies equal to desired: it creates the
// missing, restores the edited and deletes the ones no longer needed. In
// audit mode it only reports. inPlace says whether the cluster already
// held the desired policies.
func (r *NamespaceReconciler) sync(ctx context.Context, mem *namespaceMemory, desired []*networkingv1.NetworkPolicy, managed map[string]*networkingv1.NetworkPolicy) (inPlace bool, res ctrl.Result, err error) {
	audit := r.Policy.Mode == protection.Audit
	inPlace = true
	want := map[string]bool{}
	for _, d := range desired {
		d.Annotations = map[string]string{SpecHashAnnotation: specHash(&d.Spec)}
		want[d.Name] = true
		cur := managed[d.Name]
		switch {
		case cur == nil:
			inPlace = false
			if audit {
				r.auditOnce(mem, namespaceRef(d.Namespace), fmt.Sprintf("NetworkPolicy %s is missing; in enforce mode imdsguard would create it", d.Name))
				continue
			}
			cause := ""
			if mem.present[d.Name] {
				cause = "deleted"
			}
			w := write{np: d, verb: "creating", cause: cause, reason: ReasonProtected, action: "Create",
				note: "created to keep pods that no other egress policy selects away from the metadata service"}
			if res, err := r.written(ctx, mem, w, r.Client.Create(ctx, d)); err != nil || !res.IsZero() {
				return false, res, err
			}
		case !sameManaged(cur, d):
			inPlace = false
			// A policy without the hash was written by `imdsguard fix` (or an
			// older controller): adopting it is no drift.
			wrote, hashed := cur.Annotations[SpecHashAnnotation]
			edited := hashed && specHash(&cur.Spec) != wrote
			if audit {
				r.auditOnce(mem, cur, "the managed NetworkPolicy differs from what imdsguard generates; in enforce mode imdsguard would update it")
				continue
			}
			upd := cur.DeepCopy()
			upd.Spec = d.Spec
			if upd.Labels == nil {
				upd.Labels = map[string]string{}
			}
			maps.Copy(upd.Labels, d.Labels)
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			maps.Copy(upd.Annotations, d.Annotations)
			cause := ""
			if edited {
				cause = "edited"
			}
			w := write{np: upd, verb: "updating", cause: cause, reason: ReasonUpdated, action: "Update",
				note: "the pod selector follows the namespace's other egress policies: it selects only the pods none of them selects"}
			if res, err := r.written(ctx, mem, w, r.Client.Update(ctx, upd)); err != nil || !res.IsZero() {
				return false, res, err
			}
		default:
			mem.present[d.Name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(managed)) {
		if want[name] {
			continue
		}
		if audit {
			inPlace = false
			continue
		}
		if err := r.remove(ctx, mem, managed[name], "no longer needed: other egress policies now select the pods it selected"); err != nil {
			return false, ctrl.Result{}, err
		}
	}
	if inPlace {
		clear(mem.audited)
	}
	return inPlace, ctrl.Result{}, nil
}

// write is a create or update of a managed policy, and what to record
// when it succeeds.
type write struct {
	np   *networkingv1.NetworkPolicy
	verb string
	// cause is "deleted" or "edited" when the write repairs drift, "" when
	// it is an ordinary change, recorded with reason, action and note.
	cause, reason, action, note string
}

// restoreNotes explain a repaired drift, by cause.
var restoreNotes = map[string]string{
	"deleted": "the managed NetworkPolicy was deleted; imdsguard restored it (opt out with the namespace label and a reason instead)",
	"edited":  "the managed NetworkPolicy was edited; imdsguard restored its spec (change other policies, or opt the namespace out with a reason)",
}

// written handles the result of a write: a race with another writer (or
// with the cache) retries soon; success is remembered, recorded as an
// Event and logged, and a repaired drift counted.
func (r *NamespaceReconciler) written(ctx context.Context, mem *namespaceMemory, w write, err error) (ctrl.Result, error) {
	if err != nil {
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return ctrl.Result{RequeueAfter: requeueSoon}, nil
		}
		return ctrl.Result{}, fmt.Errorf("%s NetworkPolicy %s/%s: %w", w.verb, w.np.Namespace, w.np.Name, err)
	}
	mem.present[w.np.Name] = true
	if w.cause != "" {
		r.Metrics.Restores.WithLabelValues(w.cause).Inc()
		r.Recorder.Eventf(w.np, nil, corev1.EventTypeWarning, ReasonRestored, "Restore", "%s", restoreNotes[w.cause])
	} else {
		r.Recorder.Eventf(w.np, nil, corev1.EventTypeNormal, w.reason, w.action, "%s", w.note)
	}
	log.FromContext(ctx).Info("wrote managed NetworkPolicy", "policy", w.np.Name, "op", w.action, "restored", w.cause)
	return ctrl.Result{}, nil
}

// removeAll deletes every managed policy of an opted-out namespace.
func (r *NamespaceReconciler) removeAll(ctx context.Context, mem *namespaceMemory, managed map[string]*networkingv1.NetworkPolicy) error {
	if r.Policy.Mode == protection.Audit {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(managed)) {
		if err := r.remove(ctx, mem, managed[name], "the namespace opted out of metadata protection"); err != nil {
			return err
		}
	}
	return nil
}

func (r *NamespaceReconciler) remove(ctx context.Context, mem *namespaceMemory, np *networkingv1.NetworkPolicy, why string) error {
	// Forget it first: its deletion is ours, not drift to restore.
	delete(mem.present, np.Name)
	err := r.Client.Delete(ctx, np, client.Preconditions{UID: &np.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err)
	}
	r.Recorder.Eventf(namespaceRef(np.Namespace), nil, corev1.EventTypeNormal, ReasonRemoved, "Delete",
		"deleted managed NetworkPolicy %s: %s", np.Name, why)
	log.FromContext(ctx).Info("deleted managed NetworkPolicy", "policy", np.Name, "why", why)
	return nil
}

// SpecHashAnnotation holds a hash of the spec imdsguard wrote, so that an
// edit by someone else (drift) can be told from a change imdsguard makes
// because the namespace's other policies changed, even after a restart.
const SpecHashAnnotation = "imdsguard.io/spec-hash"

// specHash hashes a spec's JSON form.
func specHash(spec *networkingv1.NetworkPolicySpec) string { return hashJSON(spec) }

// hashJSON hashes a value's JSON form (map keys sorted).
func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// auditOnce records an audit-mode Event once per message and namespace.
func (r *NamespaceReconciler) auditOnce(mem *namespaceMemory, obj runtime.Object, msg string) {
	r.once(mem, obj, ReasonUnprotected, msg)
}

// once records a Warning Event once per message and namespace, until the
// namespace's policies are in place again.
func (r *NamespaceReconciler) once(mem *namespaceMemory, obj runtime.Object, reason, msg string) {
	if mem.audited[msg] {
		return
	}
	mem.audited[msg] = true
	r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, "Protect", "%s", msg)
}

// sameManaged reports whether a live managed policy still has the spec and
// labels the generator gives. Specs are compared as JSON, so that nil and
// empty lists are equal, as the API server stores them.
func sameManaged(cur, want *networkingv1.NetworkPolicy) bool {
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			return false
		}
	}
	for k, v := range want.Annotations {
		if cur.Annotations[k] != v {
			return false
		}
	}
	a, err1 := json.Marshal(cur.Spec)
	b, err2 := json.Marshal(want.Spec)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// namespaceRef is a Namespace object to record Events about.
func namespaceRef(name string) *corev1.Namespace {
	ns := &corev1.Namespace{}
	ns.Name = name
	return ns
}
