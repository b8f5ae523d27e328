package generate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// The tests of this package share one control plane.
func TestMain(m *testing.M) { testenv.Main(m) }

// crdsEnv overrides the directory hack/crds.sh fills.
const crdsEnv = "IMDSGUARD_CRDS"

// upstreamCRDDir returns the directory of upstream CRDs fetched by
// hack/crds.sh. Missing CRDs fail the test (skip it under -short, unless
// CI=true), like missing control plane binaries do.
func upstreamCRDDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(crdsEnv)
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "crds")
	}
	if _, err := os.Stat(filepath.Join(dir, ".stamp")); err != nil {
		msg := "upstream CRDs missing in " + dir + ": run hack/crds.sh (or set " + crdsEnv + ")"
		if testing.Short() && os.Getenv("CI") != "true" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return dir
}

var crdsOnce struct {
	sync.Once
	err error
}

// InstallCRDs installs, once per control plane, every CRD the generated
// cluster and admission artifacts need: the upstream ones hack/crds.sh
// fetched (network-policy-api, Cilium, Kyverno, Gatekeeper's
// ConstraintTemplate), our minimal Calico CRDs from testdata/crds, and the
// constraint CRD Gatekeeper would derive from the generated template.
func InstallCRDs(t *testing.T, env *testenv.Env) {
	t.Helper()
	dir := upstreamCRDDir(t)
	crdsOnce.Do(func() {
		_, crdsOnce.err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{
			Paths:              []string{dir, filepath.Join("testdata", "crds")},
			CRDs:               []*apiextensionsv1.CustomResourceDefinition{gatekeeperConstraintCRD()},
			ErrorIfPathMissing: true,
		})
	})
	if crdsOnce.err != nil {
		t.Fatalf("installing CRDs: %v", crdsOnce.err)
	}
}

// gatekeeperConstraintCRD is the CRD Gatekeeper creates for the generated
// ConstraintTemplate: group constraints.gatekeeper.sh, the template's kind,
// cluster-scoped. Its schema is ours and covers the fields imdsguard sets
// (Gatekeeper's own generated schema is richer).
func gatekeeperConstraintCRD() *apiextensionsv1.CustomResourceDefinition {
	str := apiextensionsv1.JSONSchemaProps{Type: "string"}
	strs := apiextensionsv1.JSONSchemaProps{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &str}}
	selector := apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptrTo(true)}
	schema := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
		"apiVersion": str, "kind": str, "metadata": {Type: "object"},
		"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"enforcementAction": {Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"deny"`)}, {Raw: []byte(`"dryrun"`)}, {Raw: []byte(`"warn"`)}}},
			"parameters":        {Type: "object", XPreserveUnknownFields: ptrTo(true)},
			"match": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"kinds": {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"apiGroups": strs, "kinds": strs},
				}}},
				"namespaces": strs, "excludedNamespaces": strs,
				"namespaceSelector": selector, "labelSelector": selector,
				"scope": {Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"*"`)}, {Raw: []byte(`"Cluster"`)}, {Raw: []byte(`"Namespaced"`)}}},
			}},
		}},
	}}
	version := func(name string, storage bool) apiextensionsv1.CustomResourceDefinitionVersion {
		return apiextensionsv1.CustomResourceDefinitionVersion{Name: name, Served: true, Storage: storage,
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: schema.DeepCopy()}}
	}
	plural := strings.ToLower(GatekeeperKind)
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + ".constraints.gatekeeper.sh"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "constraints.gatekeeper.sh",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: GatekeeperKind, ListKind: GatekeeperKind + "List",
				Plural: plural, Singular: plural, Categories: []string{"constraint", "constraints"}},
			Scope:    apiextensionsv1.ClusterScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{version("v1beta1", true), version("v1alpha1", false), version("v1", false)},
		},
	}
}

// DryRun sends every object artifact to the API server as a server-side
// dry-run create (dryRun=All) with strict field validation, so an unknown
// or duplicated field is an error instead of being pruned. Missing
// namespaces are created for real first. Raw artifacts are skipped: they
// are not API objects. Every rejection is reported.
func DryRun(t *testing.T, cfg *rest.Config, arts []Artifact) {
	t.Helper()
	for _, err := range dryRunErrors(t, cfg, arts) {
		t.Error(err)
	}
}

// dryRunErrors is DryRun returning the rejections, one per rejected
// artifact.
func dryRunErrors(t *testing.T, cfg *rest.Config, arts []Artifact) []error {
	t.Helper()
	ctx := context.Background()
	dyn, mapper := clients(t, cfg)
	var errs []error
	for _, a := range arts {
		if !a.IsObject() {
			continue
		}
		ri, err := resourceFor(dyn, mapper, a.Object)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.File, err))
			continue
		}
		if ns := a.Object.GetNamespace(); ns != "" {
			ensureNamespace(t, dyn, ns, nil)
		}
		_, err = ri.Create(ctx, a.Object.DeepCopy(), metav1.CreateOptions{
			DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: server-side dry-run of %s %q: %w", a.File, a.Object.GetKind(), a.Object.GetName(), err))
		}
	}
	return errs
}

// clients returns a dynamic client and a REST mapper read from discovery
// now (after any CRDs were installed).
func clients(t *testing.T, cfg *rest.Config) (*dynamic.DynamicClient, meta.RESTMapper) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(d)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, restmapper.NewDiscoveryRESTMapper(groups)
}

// resourceFor returns the client for obj's resource, in its namespace when
// the resource is namespaced.
func resourceFor(dyn *dynamic.DynamicClient, mapper meta.RESTMapper, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return dyn.Resource(m.Resource), nil
}

// ensureNamespace creates the namespace with the labels unless it exists.
func ensureNamespace(t *testing.T, dyn *dynamic.DynamicClient, name string, labels map[string]string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	ns.SetName(name)
	ns.SetLabels(labels)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := dyn.Resource(gvr).Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}
