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

// DecodeObjects splits a YAML or JSON stream into objects.
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
		if obj != nil {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// Create creates the objects as the admin, Namespaces first (one that
// exists is left alone), with strict field validation. With dryRun the API
// server validates, defaults and admits each object and stores nothing.
// Each refusal is a test error naming the object.
func (e *Env) Create(tb testing.TB, objs []*unstructured.Unstructured, dryRun bool) {
	tb.Helper()
	ctx := context.Background()
	groups, err := restmapper.GetAPIGroupResources(e.Clientset.Discovery())
	if err != nil {
		tb.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn := dynamic.NewForConfigOrDie(e.Config)
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, pass := range []bool{true, false} {
		for _, u := range objs {
			if (u.GetKind() == "Namespace") != pass {
				continue
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				tb.Errorf("%s %s: %v", gvk, u.GetName(), err)
				continue
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == "namespace" {
				ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
			}
			_, err = ri.Create(ctx, u, opts)
			if u.GetKind() == "Namespace" && apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				tb.Errorf("creating %s %s/%s (dry run %v): %v", gvk.Kind, u.GetNamespace(), u.GetName(), dryRun, err)
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
