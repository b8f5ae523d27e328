package pods

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// owner returns the run's ConfigMap in ns, creating it on first use. Probe
// pods name it as their controller: a pod wearing a Deployment's labels
// would otherwise be adopted by its ReplicaSet, which could then scale a
// real pod away. Deleting it also lets the garbage collector remove any
// probe pod the run could not.
func (r *runner) owner(ctx context.Context, ns string) (metav1.OwnerReference, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.owners[ns]; ok {
		return ref, nil
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: probeNamePrefix + r.run, Namespace: ns,
		Labels: map[string]string{ProbeLabel: "true", RunLabel: r.run}}}
	created, err := r.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		return metav1.OwnerReference{}, fmt.Errorf("creating the run's owner ConfigMap in %s: %w", ns, err)
	}
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: created.Name, UID: created.UID, Controller: to(true)}
	r.owners[ns] = ref
	return ref, nil
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
