package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// DecodeObjects splits a YAML or JSON stream into objects; a List is
// expanded into its items.
func DecodeObjects(tb testing.TB, b []byte) []*unstructured.Unstructured {
	tb.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			tb.Fatal(err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if !u.IsList() {
			out = append(out, u)
			continue
		}
		l, err := u.ToList()
		if err != nil {
			tb.Fatal(err)
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
}

// Create creates the objects as the admin, Namespaces first (one that
// exists is left alone), with strict field validation. With dryRun the API
// server validates, defaults and admits each object and stores nothing.
// Each refusal is a test error naming the object.
func (e *Env) Create(tb testing.TB, objs []*unstructured.Unstructured, dryRun bool) {
	tb.Helper()
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	e.create(tb, objs, opts, func(u *unstructured.Unstructured) bool { return u.GetKind() == "Namespace" }, tb.Errorf)
}

// CreateAll creates fixtures as the admin, Namespaces first, leaving alone
// any object that exists already (tests of one package share the control
// plane); status is dropped, and a namespaced object without a namespace
// goes to "default". Each refusal fails the test.
func (e *Env) CreateAll(tb testing.TB, objs []*unstructured.Unstructured) {
	tb.Helper()
	fixtures := make([]*unstructured.Unstructured, len(objs))
	for i, u := range objs {
		u = u.DeepCopy()
		delete(u.Object, "status")
		fixtures[i] = u
	}
	e.create(tb, fixtures, metav1.CreateOptions{}, func(*unstructured.Unstructured) bool { return true }, tb.Fatalf)
}

// create creates objs, Namespaces first; an object that exists already is
// no failure when keep says so; fail reports a refusal.
func (e *Env) create(tb testing.TB, objs []*unstructured.Unstructured, opts metav1.CreateOptions,
	keep func(*unstructured.Unstructured) bool, fail func(format string, args ...any)) {
	tb.Helper()
	ctx := context.Background()
	groups, err := restmapper.GetAPIGroupResources(e.Clientset.Discovery())
	if err != nil {
		tb.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn := dynamic.NewForConfigOrDie(e.Config)
	for _, pass := range []bool{true, false} {
		for _, u := range objs {
			if (u.GetKind() == "Namespace") != pass {
				continue
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				fail("%s %s: %v", gvk, u.GetName(), err)
				continue
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == "namespace" {
				ns := u.GetNamespace()
				if ns == "" {
					ns = metav1.NamespaceDefault
				}
				ri = dyn.Resource(m.Resource).Namespace(ns)
			}
			_, err = ri.Create(ctx, u, opts)
			if apierrors.IsAlreadyExists(err) && keep(u) {
				continue
			}
			if err != nil {
				fail("creating %s %s/%s (dry run %v): %v", gvk.Kind, u.GetNamespace(), u.GetName(), len(opts.DryRun) > 0, err)
			}
		}
	}
}

// Buffer is a bytes.Buffer that a command running in the background may
// write (its logs, say) while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
