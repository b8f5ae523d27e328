package kube

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

func ptr[T any](v T) *T { return &v }

func ipPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

func numPort(proto corev1.Protocol, port int32, end *int32) networkingv1.NetworkPolicyPort {
	p := networkingv1.NetworkPolicyPort{Port: ptr(intstr.FromInt32(port)), EndPort: end}
	if proto != "" {
		p.Protocol = &proto
	}
	return p
}

func namedPort(name string) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Port: ptr(intstr.FromString(name))}
}

func egress(to []networkingv1.NetworkPolicyPeer, ports ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicyEgressRule {
	return networkingv1.NetworkPolicyEgressRule{To: to, Ports: ports}
}

// netpolCases are typed NetworkPolicies covering the semantics the two
// loaders must agree on, valid and not.
func netpolCases() map[string]networkingv1.NetworkPolicySpec {
	sel := metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}},
			{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	eg := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	return map[string]networkingv1.NetworkPolicySpec{
		"no-policy-types-ingress-only": {},
		"no-policy-types-with-egress":  {Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
		"egress-deny-all":              {PolicyTypes: eg},
		"both-types": {PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}}},
		"selectors": {PodSelector: sel, PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{
			egress([]networkingv1.NetworkPolicyPeer{{PodSelector: &sel}, {NamespaceSelector: &metav1.LabelSelector{}},
				{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"k": "v"}}, NamespaceSelector: &sel}})}},
		"ipblock-masked-and-except": {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{
			egress([]networkingv1.NetworkPolicyPeer{ipPeer("10.1.2.3/8", "10.9.0.0/16"), ipPeer("0.0.0.0/0", "169.254.169.254/32", "169.254.0.0/16"),
				ipPeer("::/0", "fd00:ec2::254/128")})}},
		"ipblock-mapped-v6": {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{
			egress([]networkingv1.NetworkPolicyPeer{ipPeer("::ffff:0.0.0.0/96", "::ffff:169.254.169.254/128"), ipPeer("0.0.0.0/0")})}},
		"ipblock-mapped-except-only": {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{
			egress([]networkingv1.NetworkPolicyPeer{ipPeer("::/0", "::ffff:169.254.169.254/128")})}},
		"ports": {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{
			egress(nil, numPort("", 80, nil), numPort(corev1.ProtocolUDP, 53, nil), numPort(corev1.ProtocolTCP, 1000, ptr(int32(2000))),
				numPort(corev1.ProtocolSCTP, 9, nil), namedPort("http"), networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolUDP)})}},
		"bad-except-outside":  {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{ipPeer("10.0.0.0/8", "11.0.0.0/16")})}},
		"bad-except-equal":    {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{ipPeer("10.0.0.0/8", "10.0.0.0/8")})}},
		"bad-except-family":   {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{ipPeer("0.0.0.0/0", "fd00::/8")})}},
		"bad-cidr":            {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{ipPeer("10.0.0/8")})}},
		"bad-cidr-zeros":      {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{ipPeer("010.0.0.0/8")})}},
		"bad-port-range":      {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, numPort("", 70000, nil))}},
		"bad-endport-named":   {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, networkingv1.NetworkPolicyPort{Port: ptr(intstr.FromString("http")), EndPort: ptr(int32(90))})}},
		"bad-endport-less":    {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, numPort("", 100, ptr(int32(90))))}},
		"bad-endport-no-port": {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, networkingv1.NetworkPolicyPort{EndPort: ptr(int32(90))})}},
		"bad-quoted-port":     {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, namedPort("8080"))}},
		"bad-port-name":       {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, namedPort("-bad-"))}},
		"bad-protocol":        {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress(nil, networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.Protocol("ICMP"))})}},
		"bad-policy-type":     {PolicyTypes: []networkingv1.PolicyType{"Sideways"}},
		"bad-peer-both":       {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "1.2.3.4/32"}, PodSelector: &metav1.LabelSelector{}}})}},
		"bad-peer-empty":      {PolicyTypes: eg, Egress: []networkingv1.NetworkPolicyEgressRule{egress([]networkingv1.NetworkPolicyPeer{{}})}},
		"bad-selector-values": {PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}}},
		"bad-selector-op":     {PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}},
	}
}

// TestConvertNetworkPolicyMatchesManifest is a differential test: each
// typed policy is written as YAML and read by the manifest loader, and the
// two models (sources aside) and error messages must be the same.
func TestConvertNetworkPolicyMatchesManifest(t *testing.T) {
	dir := t.TempDir()
	for name, spec := range netpolCases() {
		t.Run(name, func(t *testing.T) {
			p := &networkingv1.NetworkPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1", Annotations: map[string]string{"a": "b", "imdsguard.io/suppress": "IMDS-003"}},
				Spec:       spec,
			}
			file := writeYAML(t, dir, name, p)
			res := manifest.Load(context.Background(), []string{file}, manifest.Options{})
			var wantErrs []string
			for _, e := range res.Errors {
				wantErrs = append(wantErrs, e.Msg)
			}
			got, gotErrs := ConvertNetworkPolicy(p, model.Source{Cluster: "c"})
			if diff := cmp.Diff(gotErrs, wantErrs); diff != "" {
				t.Fatalf("errors differ (-got +want):\n%s", diff)
			}
			if strings.HasPrefix(name, "bad-") {
				if len(gotErrs) == 0 {
					t.Fatal("want an error")
				}
				return
			}
			if len(res.Inventory.NetworkPolicies) != 1 {
				t.Fatalf("manifest loader read %d policies", len(res.Inventory.NetworkPolicies))
			}
			if diff := cmp.Diff(got, res.Inventory.NetworkPolicies[0], modelOpts...); diff != "" {
				t.Errorf("models differ (-got +want):\n%s", diff)
			}
		})
	}
}

// modelOpts compare models apart from where they were read.
var modelOpts = cmp.Options{
	cmpopts.IgnoreTypes(model.Source{}),
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Transformer("selector", func(s model.Selector) selectorView {
		v := selectorView{MatchLabels: s.MatchLabels, MatchExpressions: s.MatchExpressions}
		if s.Compiled != nil {
			v.Compiled = s.Compiled.String()
		}
		return v
	}),
}

// selectorView is a model.Selector with the compiled form as a string.
type selectorView struct {
	MatchLabels      map[string]string
	MatchExpressions []model.Requirement
	Compiled         string
}

func writeYAML(t *testing.T, dir, name string, obj any) string {
	t.Helper()
	b, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestStubKindsMatchManifest checks the policy kinds the engine does not
// evaluate against the manifest loader's reading of the same objects. The
// version is one no loader evaluates (Calico's crd.projectcalico.org/v1
// is read, not stubbed).
func TestStubKindsMatchManifest(t *testing.T) {
	dir := t.TempDir()
	l := &loader{src: model.Source{Cluster: "c"}}
	for gk := range stubKinds {
		for _, tier := range []string{"", "Baseline"} {
			group, kind, _ := strings.Cut(gk, "/")
			if tier != "" && kind != "ClusterNetworkPolicy" {
				continue
			}
			u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"tier": tier}}}
			u.SetAPIVersion(group + "/v99")
			u.SetKind(kind)
			u.SetName("p")
			if !stubKinds[gk].ClusterScoped {
				u.SetNamespace("ns1")
			}
			file := writeYAML(t, dir, strings.NewReplacer("/", "-", ".", "-").Replace(gk)+tier, u.Object)
			res := manifest.Load(context.Background(), []string{file}, manifest.Options{})
			if len(res.Errors) > 0 || len(res.Inventory.Unsupported) != 1 {
				t.Fatalf("%s: manifest loader: errors %v, %d stubs", gk, res.Errors, len(res.Inventory.Unsupported))
			}
			l.stubs = nil
			l.stub(resource{apiVersion: group + "/v99", kind: kind}, u)
			if diff := cmp.Diff(l.stubs[0], res.Inventory.Unsupported[0], modelOpts...); diff != "" {
				t.Errorf("%s tier %q differs (-got +want):\n%s", gk, tier, diff)
			}
		}
	}
}
