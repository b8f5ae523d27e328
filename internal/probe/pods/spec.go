package pods

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Labels and annotations on every probe pod. RunLabel finds a run's pods
// for cleanup.
const (
	ProbeLabel       = "imdsguard.io/probe"
	RunLabel         = "imdsguard.io/probe-run"
	SubjectAnnot     = "imdsguard.io/probe-as"
	ContainerName    = "agent"
	neverReadyGate   = "imdsguard.io/probe-never-ready"
	probeNamePrefix  = "imdsguard-probe-"
	probeAppLabelKey = "app.kubernetes.io/name"
	probeAppLabel    = "imdsguard-probe"
)

// Subject is what one probe pod stands for.
type Subject struct {
	// Object is the workload worn, or the namespace probed.
	Object    model.ObjectRef
	Source    model.Source
	Namespace string
	// Labels are worn by the pod, so that the policies that select the
	// workload select the probe; empty for a namespace probe.
	Labels         map[string]string
	ServiceAccount string
	HostNetwork    bool
	// NodeName pins the pod to a node, tolerating every taint: node mode.
	NodeName string
}

// NamespaceLabels are the labels of a namespace probe (without the run
// label): what the static verdict of a namespace probe is computed for.
func NamespaceLabels() map[string]string {
	return map[string]string{probeAppLabelKey: probeAppLabel, ProbeLabel: "true"}
}

// podFor builds the probe pod of a subject. The pod is never Ready (a
// readiness gate nobody sets), so that wearing a workload's labels does not
// put it behind the workload's Services.
func (r *runner) podFor(s Subject) *corev1.Pod {
	labels := map[string]string{}
	if len(s.Labels) == 0 {
		maps.Copy(labels, NamespaceLabels())
	} else {
		maps.Copy(labels, s.Labels)
	}
	labels[ProbeLabel] = "true"
	labels[RunLabel] = r.run
	sa := s.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	deadline := int64(r.o.PodDeadline.Seconds())
	if deadline < 1 {
		deadline = 1
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: probeNamePrefix, Namespace: s.Namespace, Labels: labels,
			Annotations: map[string]string{SubjectAnnot: s.Object.String()}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ServiceAccountName:            sa,
			AutomountServiceAccountToken:  to(false),
			HostNetwork:                   s.HostNetwork,
			NodeName:                      s.NodeName,
			Tolerations:                   tolerations(s),
			EnableServiceLinks:            to(false),
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: to[int64](0),
			ReadinessGates:                []corev1.PodReadinessGate{{ConditionType: neverReadyGate}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   to(true),
				RunAsUser:      to[int64](65532),
				RunAsGroup:     to[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    r.o.Image,
				Args:                     r.o.Args,
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: to(false),
					ReadOnlyRootFilesystem:   to(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				Resources: r.o.Resources,
			}},
		},
	}
}

func to[T any](v T) *T { return &v }

// tolerations lets a node probe run on a tainted node: it is pinned there
// and asked for by name.
func tolerations(s Subject) []corev1.Toleration {
	if s.NodeName == "" {
		return nil
	}
	return []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
}
