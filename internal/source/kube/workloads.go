package kube

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
)

// defaultServiceAccount is the ServiceAccount of pods that name none.
const defaultServiceAccount = "default"

// entry is a workload as listed, before owned objects are folded into
// their owners.
type entry struct {
	w     *model.Workload
	uid   string
	owner *metav1.OwnerReference // the controlling owner, for folded kinds
}

// add records a workload. Pods, ReplicaSets and Jobs are folded under the
// owner their controller reference names.
func (l *loader) add(apiVersion, kind string, meta *metav1.ObjectMeta, folded bool, t ...model.PodTemplate) {
	e := &entry{
		w: &model.Workload{
			Ref:         model.ObjectRef{APIVersion: apiVersion, Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
			Annotations: model.OwnAnnotations(meta.Annotations),
			Source:      l.src,
			Templates:   t,
		},
		uid: string(meta.UID),
	}
	if folded {
		e.owner = controllerOf(meta.OwnerReferences)
	}
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
}

// controllerOf returns the ownerReference marked controller, else the
// first. A mirror pod's Node owner is not a workload.
func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	var ctrl *metav1.OwnerReference
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			ctrl = &refs[i]
			break
		}
	}
	if ctrl == nil && len(refs) > 0 {
		ctrl = &refs[0]
	}
	if ctrl == nil || (group(ctrl.APIVersion) == "" && ctrl.Kind == "Node") {
		return nil
	}
	return ctrl
}

func group(apiVersion string) string {
	g, _, _ := cut(apiVersion)
	return g
}

// template reads what decides reachability from a pod spec.
func (l *loader) template(labels map[string]string, spec *corev1.PodSpec) model.PodTemplate {
	sa := spec.ServiceAccountName
	if sa == "" {
		sa = spec.DeprecatedServiceAccount //nolint:staticcheck // still honoured by the API server
	}
	if sa == "" {
		sa = defaultServiceAccount
	}
	ls := model.Labels{}
	maps.Copy(ls, labels)
	t := model.PodTemplate{Labels: ls, HostNetwork: spec.HostNetwork, ServiceAccount: sa, Source: l.src}
	if len(spec.NodeSelector) > 0 {
		t.NodeSelector = model.Labels{}
		maps.Copy(t.NodeSelector, spec.NodeSelector)
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			t.NodeAffinity = append(t.NodeAffinity, model.NodeSelectorTerm{
				MatchExpressions: nodeRequirements(term.MatchExpressions),
				MatchFields:      nodeRequirements(term.MatchFields),
			})
		}
	}
	return t
}

func nodeRequirements(rs []corev1.NodeSelectorRequirement) []model.Requirement {
	var out []model.Requirement
	for _, r := range rs {
		out = append(out, model.Requirement{Key: r.Key, Operator: string(r.Operator), Values: slices.Clone(r.Values)})
	}
	return out
}

func (l *loader) pod(p *corev1.Pod) {
	l.add("v1", "Pod", &p.ObjectMeta, true, l.template(p.Labels, &p.Spec))
}

func (l *loader) deployment(d *appsv1.Deployment) {
	l.add("apps/v1", "Deployment", &d.ObjectMeta, false, l.template(d.Spec.Template.Labels, &d.Spec.Template.Spec))
}

func (l *loader) statefulSet(s *appsv1.StatefulSet) {
	l.add("apps/v1", "StatefulSet", &s.ObjectMeta, false, l.template(s.Spec.Template.Labels, &s.Spec.Template.Spec))
}

func (l *loader) daemonSet(d *appsv1.DaemonSet) {
	l.add("apps/v1", "DaemonSet", &d.ObjectMeta, false, l.template(d.Spec.Template.Labels, &d.Spec.Template.Spec))
}

func (l *loader) replicaSet(r *appsv1.ReplicaSet) {
	l.add("apps/v1", "ReplicaSet", &r.ObjectMeta, true, l.template(r.Spec.Template.Labels, &r.Spec.Template.Spec))
}

func (l *loader) job(j *batchv1.Job) {
	l.add("batch/v1", "Job", &j.ObjectMeta, true, l.template(j.Spec.Template.Labels, &j.Spec.Template.Spec))
}

func (l *loader) cronJob(c *batchv1.CronJob) {
	t := &c.Spec.JobTemplate.Spec.Template
	l.add("batch/v1", "CronJob", &c.ObjectMeta, false, l.template(t.Labels, &t.Spec))
}

func (l *loader) replicationController(r *corev1.ReplicationController) {
	var ts []model.PodTemplate
	if t := r.Spec.Template; t != nil {
		ts = append(ts, l.template(t.Labels, &t.Spec))
	}
	l.add("v1", "ReplicationController", &r.ObjectMeta, false, ts...)
}
