package generate

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// clusterTestOptions are the options of the cluster, admission and
// detection tests: every endpoint family of the catalogue, two exempt
// namespaces and every cluster kind.
func clusterTestOptions() *Options {
	var deny []netip.Addr
	for _, s := range []string{"100.100.100.200", "168.63.129.16", "169.254.169.254", "fd00:ec2::254", "fd20:ce::254"} {
		deny = append(deny, netip.MustParseAddr(s))
	}
	return &Options{
		Deny:             deny,
		ExemptNamespaces: []string{"kube-system", "monitoring"},
		ClusterKinds:     ClusterKinds,
	}
}

// TestServerDryRun sends every cluster and admission artifact to a real
// kube-apiserver as a strict server-side dry-run, after installing the CRDs
// they need. It proves the objects are valid against the upstream schemas
// (and CEL rules) of network-policy-api, Cilium, Kyverno and Gatekeeper's
// ConstraintTemplate, and that the ValidatingAdmissionPolicy compiles; the
// Calico objects and the Gatekeeper constraint are checked against CRDs of
// our own (shape only).
func TestServerDryRun(t *testing.T) {
	env := testenv.Get(t)
	InstallCRDs(t, env)
	for _, tc := range []struct {
		name string
		opts func(*Options)
	}{
		{"defaults", func(*Options) {}},
		{"no exempt namespaces, custom name and label", func(o *Options) {
			o.ExemptNamespaces = nil
			o.Name = "custom"
			o.ExemptLabel, o.ExemptValue = "example.com/imds", "yes"
		}},
		{"IPv4 only", func(o *Options) { o.Deny = o.Deny[:3] }},
		{"IPv6 only", func(o *Options) { o.Deny = o.Deny[3:] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := clusterTestOptions()
			tc.opts(o)
			cluster, err := Cluster(o)
			if err != nil {
				t.Fatal(err)
			}
			admission, err := Admission(o)
			if err != nil {
				t.Fatal(err)
			}
			arts := append(cluster, admission...)
			if got, want := len(arts), 11; got != want {
				t.Fatalf("got %d artifacts, want %d", got, want)
			}
			DryRun(t, env.Config, arts)
		})
	}
}

// TestServerDryRunRejects shows the dry-run is not a formality: objects the
// upstream schemas or strict field validation forbid are reported.
func TestServerDryRunRejects(t *testing.T) {
	env := testenv.Get(t)
	InstallCRDs(t, env)
	o := clusterTestOptions()
	o.ClusterKinds = []string{KindBANP, KindCilium, KindCalico}
	arts, err := Cluster(o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range arts {
		arts[i] = Artifact{Group: arts[i].Group, File: arts[i].File, Object: arts[i].Object.DeepCopy()}
	}
	// network-policy-api's CEL rule: a BaselineAdminNetworkPolicy must be named "default".
	arts[0].Object.SetName("not-default")
	// Strict field validation: a misspelt field is an error, not pruned.
	if err := unstructured.SetNestedField(arts[1].Object.Object, true, "spec", "enableDefaultDenyy"); err != nil {
		t.Fatal(err)
	}
	// Our Calico CRD: a rule's nets must be of its ipVersion.
	rules, _, _ := unstructured.NestedSlice(arts[3].Object.Object, "spec", "egress")
	rules[0].(map[string]any)["ipVersion"] = int64(6)
	if err := unstructured.SetNestedSlice(arts[3].Object.Object, rules, "spec", "egress"); err != nil {
		t.Fatal(err)
	}
	errs := dryRunErrors(t, env.Config, arts)
	want := []string{
		`Only one baseline admin network policy with metadata.name="default"`,
		`unknown field "spec.enableDefaultDenyy"`,
		"destination nets must be of the rule's ipVersion",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d rejections, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("rejection %d = %v, want it to contain %q", i, errs[i], w)
		}
	}
}
