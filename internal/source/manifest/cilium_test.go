package manifest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

func renderCiliumPolicy(p func(string, ...any), cp *model.CiliumPolicy) {
	p("ciliumpolicy %s clusterwide=%t src=%s", cp.Ref, cp.Clusterwide, cp.Source)
	for _, r := range cp.Rules {
		p("  rule %s defaultDenyEgress=%t endpointSelector=%s nodeSelector=%s src=%s", r.Path, r.DefaultDenyEgress,
			ciliumSelectorText(r.EndpointSelector), ciliumSelectorText(r.NodeSelector), r.Source)
		for _, e := range r.Egress {
			p("    egress #%d %s deny=%t peer=%q empty=%t icmp=%t toPorts=%t src=%s", e.Index, e.Path, e.Deny, e.Peer, e.EmptyPeer, e.ICMP, e.HasToPorts, e.Source)
			for _, b := range e.CIDRs {
				p("      cidr=%s (%s) except=%v ambiguous=%q src=%s", b.CIDR, b.RawCIDR, b.Except, b.Ambiguous, b.Source)
			}
			if e.Entities != nil {
				p("      entities=%v", e.Entities)
			}
			for _, s := range e.Endpoints {
				p("      endpoints=%s", ciliumSelectorText(&s))
			}
			if e.Unmodelled != nil {
				p("      unmodelled=%v", e.Unmodelled)
			}
			for _, pr := range e.ToPorts {
				var ports []string
				for _, port := range pr.Ports {
					ports = append(ports, fmt.Sprintf("%s/%d-%d%q", port.Protocol, port.Number, port.EndPort, port.Name))
				}
				p("      toPorts [%s] l7=%q src=%s", strings.Join(ports, " "), pr.L7, pr.Source)
			}
		}
	}
}

func ciliumSelectorText(s *model.CiliumSelector) string {
	if s == nil {
		return "<none>"
	}
	var terms []string
	for _, t := range s.Terms {
		terms = append(terms, fmt.Sprintf("%s:%s %s %v", t.LabelSource, t.Key, t.Operator, t.Values))
	}
	return fmt.Sprintf("%s [%s] src=%s", s.Text, strings.Join(terms, "; "), s.Source)
}

// TestCiliumFieldsMatchCRD checks that the fields the loader accepts in
// Cilium policies are exactly those of the upstream CRD schemas that
// hack/crds.sh fetches (IMDSGUARD_CRDS overrides the directory): a field
// a new Cilium version adds must be handled here first.
func TestCiliumFieldsMatchCRD(t *testing.T) {
	dir := os.Getenv("IMDSGUARD_CRDS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", ".cache", "crds")
	}
	for _, file := range []string{"ciliumnetworkpolicies.yaml", "ciliumclusterwidenetworkpolicies.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			msg := fmt.Sprintf("%v: run hack/crds.sh (or set IMDSGUARD_CRDS)", err)
			if testing.Short() && os.Getenv("CI") != "true" {
				t.Skip(msg)
			}
			t.Fatal(msg)
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema crdSchema `yaml:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatal(err)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v2" {
			t.Fatalf("%s: versions %+v, want v2 alone", file, crd.Spec.Versions)
		}
		root := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
		spec := root.Properties["spec"]
		egress, deny := spec.Properties["egress"].Items, spec.Properties["egressDeny"].Items
		for _, tc := range []struct {
			name   string
			schema *crdSchema
			ours   []string
		}{
			{"object", &root, ciliumFields.object},
			{"spec", &spec, ciliumFields.rule},
			{"specs[]", root.Properties["specs"].Items, ciliumFields.rule},
			{"enableDefaultDeny", ptr(spec.Properties["enableDefaultDeny"]), ciliumFields.defaultDeny},
			{"endpointSelector", ptr(spec.Properties["endpointSelector"]), ciliumFields.selector},
			{"egress[]", egress, ciliumFields.egress},
			{"egressDeny[]", deny, ciliumFields.egressDeny},
			{"toCIDRSet[]", egress.Properties["toCIDRSet"].Items, ciliumFields.cidrRule},
			{"toPorts[]", egress.Properties["toPorts"].Items, ciliumFields.portRule},
			{"egressDeny toPorts[]", deny.Properties["toPorts"].Items, ciliumFields.portDenyRule},
			{"ports[]", egress.Properties["toPorts"].Items.Properties["ports"].Items, ciliumFields.port},
		} {
			upstream := slices.Sorted(maps.Keys(tc.schema.Properties))
			ours := slices.Sorted(slices.Values(tc.ours))
			if !slices.Equal(ours, upstream) {
				t.Errorf("%s %s: loader accepts %v, CRD has %v", file, tc.name, ours, upstream)
			}
		}
		entities := egress.Properties["toEntities"].Items.Enum
		if !slices.Equal(slices.Sorted(slices.Values(entities)), slices.Sorted(slices.Values(ciliumEntities))) {
			t.Errorf("%s: entities %v, loader accepts %v", file, entities, ciliumEntities)
		}
		protocols := egress.Properties["toPorts"].Items.Properties["ports"].Items.Properties["protocol"].Enum
		if !slices.Equal(slices.Sorted(slices.Values(protocols)), slices.Sorted(slices.Values(ciliumProtocols))) {
			t.Errorf("%s: protocols %v, loader accepts %v", file, protocols, ciliumProtocols)
		}
	}
}

// crdSchema is the part of an OpenAPI schema the test reads.
type crdSchema struct {
	Properties map[string]crdSchema
	Items      *crdSchema
	Enum       []string
}

func ptr[T any](v T) *T { return &v }
