package kube_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// The tests of this package share one control plane.
func TestMain(m *testing.M) { testenv.Main(m) }

// readObjects decodes every object (Lists expanded) of YAML or JSON files.
func readObjects(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if obj == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			if u.IsList() {
				l, err := u.ToList()
				if err != nil {
					t.Fatal(err)
				}
				for i := range l.Items {
					out = append(out, &l.Items[i])
				}
				continue
			}
			out = append(out, u)
		}
	}
	return out
}

// glob returns the files matching pattern.
func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

// create creates objects in the API server as the admin: Namespaces
// first; objects that exist already are left alone.
func create(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	groups, err := restmapper.GetAPIGroupResources(env.Clientset.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn := dynamic.NewForConfigOrDie(env.Config)
	for _, pass := range []bool{true, false} {
		for _, u := range objs {
			if (u.GetKind() == "Namespace") != pass {
				continue
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %v", gvk, err)
			}
			u = u.DeepCopy()
			delete(u.Object, "status")
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == "namespace" {
				ns := u.GetNamespace()
				if ns == "" {
					ns = "default"
				}
				ri = dyn.Resource(m.Resource).Namespace(ns)
			}
			if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("creating %s %s/%s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), err)
			}
		}
	}
}
