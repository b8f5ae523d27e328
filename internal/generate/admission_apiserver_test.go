package generate

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// vapScopeLabel confines the policy under test to this test's namespaces,
// so the other tests sharing the control plane are not affected.
const vapScopeLabel = "imdsguard.test/vap-scope"

// TestValidatingAdmissionPolicy installs the generated policy and binding
// on a real kube-apiserver and creates Pods and workloads against it.
func TestValidatingAdmissionPolicy(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	o := clusterTestOptions()
	o.Name = "vaptest"
	o.ExemptNamespaces = []string{"vap-exempt-by-name"}
	dyn, mapper := clients(t, env.Config)
	scope := map[string]string{vapScopeLabel: "yes"}
	ensureNamespace(t, dyn, "vap-guarded", scope)
	ensureNamespace(t, dyn, "vap-exempt-by-name", scope)
	ensureNamespace(t, dyn, "vap-exempt-by-label", map[string]string{vapScopeLabel: "yes", DefaultExemptLabel: DefaultExemptValue})
	ensureNamespace(t, dyn, "vap-other-value", map[string]string{vapScopeLabel: "yes", DefaultExemptLabel: "deny"})

	mustCreate := func(obj *unstructured.Unstructured) {
		t.Helper()
		ri, err := resourceFor(dyn, mapper, obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ri.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s/%s: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	// Made before the policy exists: updates of it must still pass.
	mustCreate(workload("Deployment", "vap-guarded", "legacy", true))
	mustCreate(workload("Deployment", "vap-guarded", "plain", false))

	arts, err := Admission(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts[:2] {
		obj := a.Object.DeepCopy()
		if obj.GetKind() == "ValidatingAdmissionPolicyBinding" {
			exprs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "matchResources", "namespaceSelector", "matchExpressions")
			exprs = append(exprs, map[string]any{"key": vapScopeLabel, "operator": "Exists"})
			if err := unstructured.SetNestedSlice(obj.Object, exprs, "spec", "matchResources", "namespaceSelector", "matchExpressions"); err != nil {
				t.Fatal(err)
			}
		}
		mustCreate(obj)
		ri, _ := resourceFor(dyn, mapper, obj)
		t.Cleanup(func() { _ = ri.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
	}
	waitForPolicy(t, dyn, mapper)

	for _, tc := range []struct {
		kind, ns   string
		hostNet    bool
		wantReject bool
	}{
		{"Pod", "vap-guarded", true, true},
		{"Deployment", "vap-guarded", true, true},
		{"DaemonSet", "vap-guarded", true, true},
		{"StatefulSet", "vap-guarded", true, true},
		{"ReplicaSet", "vap-guarded", true, true},
		{"Job", "vap-guarded", true, true},
		{"CronJob", "vap-guarded", true, true},
		{"ReplicationController", "vap-guarded", true, true},
		{"Pod", "vap-other-value", true, true},
		{"Pod", "vap-guarded", false, false},
		{"Deployment", "vap-guarded", false, false},
		{"CronJob", "vap-guarded", false, false},
		{"Pod", "vap-exempt-by-name", true, false},
		{"Deployment", "vap-exempt-by-name", true, false},
		{"Pod", "vap-exempt-by-label", true, false},
		{"Deployment", "vap-exempt-by-label", true, false},
	} {
		name := strings.ToLower(tc.kind)
		if tc.hostNet {
			name += "-hostnet"
		}
		t.Run(tc.ns+"/"+name, func(t *testing.T) {
			obj := workload(tc.kind, tc.ns, name, tc.hostNet)
			ri, err := resourceFor(dyn, mapper, obj)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ri.Create(ctx, obj, metav1.CreateOptions{})
			checkAdmission(t, err, tc.wantReject)
		})
	}

	t.Run("update turning hostNetwork on", func(t *testing.T) {
		err := updateTemplate(ctx, dyn, "plain", func(spec map[string]any) { spec["hostNetwork"] = true })
		checkAdmission(t, err, true)
	})
	t.Run("update of an object that already had hostNetwork", func(t *testing.T) {
		err := updateTemplate(ctx, dyn, "legacy", func(spec map[string]any) { spec["dnsPolicy"] = "ClusterFirstWithHostNet" })
		checkAdmission(t, err, false)
	})
}

// checkAdmission asserts that err is the policy's rejection, or nil.
func checkAdmission(t *testing.T, err error, wantReject bool) {
	t.Helper()
	switch {
	case !wantReject && err != nil:
		t.Fatalf("rejected: %v", err)
	case wantReject && err == nil:
		t.Fatal("admitted, want the policy to reject it")
	case wantReject:
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			t.Errorf("rejection is %v (reason %q), want Forbidden or Invalid", err, apierrors.ReasonForError(err))
		}
		for _, want := range []string{"T1552.005", "hostNetwork", DefaultExemptLabel + "=" + DefaultExemptValue} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("rejection %q does not mention %q", err, want)
			}
		}
	}
}

// waitForPolicy waits until the API server enforces the new policy (it
// loads policies asynchronously), probing with dry-run creates.
func waitForPolicy(t *testing.T, dyn *dynamic.DynamicClient, mapper meta.RESTMapper) {
	t.Helper()
	probe := workload("Pod", "vap-guarded", "probe", true)
	ri, err := resourceFor(dyn, mapper, probe)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := ri.Create(context.Background(), probe.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "T1552.005") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy not enforced after 60s; last result: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// updateTemplate changes the pod spec of Deployment vap-guarded/name.
func updateTemplate(ctx context.Context, dyn *dynamic.DynamicClient, name string, change func(map[string]any)) error {
	ri := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("vap-guarded")
	obj, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
	change(spec)
	if err := unstructured.SetNestedMap(obj.Object, spec, "spec", "template", "spec"); err != nil {
		return err
	}
	_, err = ri.Update(ctx, obj, metav1.UpdateOptions{})
	return err
}

// workload returns a minimal object of kind in ns, with hostNetwork set as
// asked in its pod spec.
func workload(kind, ns, name string, hostNetwork bool) *unstructured.Unstructured {
	podSpec := map[string]any{
		"containers": []any{map[string]any{"name": "app", "image": "registry.invalid/app:1"}},
	}
	if hostNetwork {
		podSpec["hostNetwork"] = true
	}
	labels := map[string]any{"app": name}
	template := map[string]any{"metadata": map[string]any{"labels": labels}, "spec": podSpec}
	apiVersion := map[string]string{
		"Pod": "v1", "ReplicationController": "v1",
		"Deployment": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1", "ReplicaSet": "apps/v1",
		"Job": "batch/v1", "CronJob": "batch/v1",
	}[kind]
	selector := map[string]any{"matchLabels": labels}
	var spec map[string]any
	switch kind {
	case "Pod":
		spec = podSpec
	case "ReplicationController":
		spec = map[string]any{"selector": labels, "template": template}
	case "Job":
		podSpec["restartPolicy"] = "Never"
		spec = map[string]any{"template": template}
	case "CronJob":
		podSpec["restartPolicy"] = "Never"
		spec = map[string]any{"schedule": "0 * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": template}}}
	case "StatefulSet":
		spec = map[string]any{"selector": selector, "serviceName": name, "template": template}
	default:
		spec = map[string]any{"selector": selector, "template": template}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels},
		"spec":     spec,
	}}
	return u
}
