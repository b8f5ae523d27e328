package kube

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/imdsguard/imdsguard/internal/model"
)

// netpolConverter turns a typed NetworkPolicy into the model, with the
// manifest loader's semantics and messages. Problems are collected as
// "path: message" strings; a policy with any is not used.
type netpolConverter struct {
	src  model.Source
	errs []string
}

func (c *netpolConverter) failf(path, format string, args ...any) {
	c.errs = append(c.errs, path+": "+fmt.Sprintf(format, args...))
}

// ConvertNetworkPolicy converts a NetworkPolicy read from cluster src. It
// returns the problems found; the policy must not be used when there are
// any, because the API server would not have accepted it as it is read.
func ConvertNetworkPolicy(p *networkingv1.NetworkPolicy, src model.Source) (*model.NetworkPolicy, []string) {
	c := &netpolConverter{src: src}
	np := &model.NetworkPolicy{
		Ref:         model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: p.Namespace, Name: p.Name},
		Annotations: model.OwnAnnotations(p.Annotations),
		Source:      src,
		PodSelector: *c.selector(&p.Spec.PodSelector, "spec.podSelector"),
	}
	for i := range p.Spec.Egress {
		np.EgressRules = append(np.EgressRules, c.egressRule(&p.Spec.Egress[i], fmt.Sprintf("spec.egress[%d]", i), i))
	}
	for i, r := range p.Spec.Ingress {
		path := fmt.Sprintf("spec.ingress[%d]", i)
		for j := range r.From {
			c.peer(&r.From[j], fmt.Sprintf("%s.from[%d]", path, j))
		}
		c.ports(r.Ports, path)
	}
	np.Ingress, np.Egress = c.policyTypes(p.Spec.PolicyTypes, len(np.EgressRules) > 0)
	return np, c.errs
}

// policyTypes applies the API server's defaulting: without policyTypes a
// policy governs ingress, and egress only when it has egress rules.
func (c *netpolConverter) policyTypes(types []networkingv1.PolicyType, hasEgress bool) (ingress, egress bool) {
	if len(types) == 0 {
		return true, hasEgress
	}
	if len(types) > 2 {
		c.failf("spec.policyTypes", "at most 2 items allowed, got %d", len(types))
	}
	for i, t := range types {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		default:
			c.failf(fmt.Sprintf("spec.policyTypes[%d]", i), "unsupported value %q (want \"Ingress\" or \"Egress\")", t)
		}
	}
	return ingress, egress
}

func (c *netpolConverter) egressRule(r *networkingv1.NetworkPolicyEgressRule, path string, i int) model.EgressRule {
	out := model.EgressRule{Index: i, Source: c.src}
	for j := range r.To {
		out.To = append(out.To, c.peer(&r.To[j], fmt.Sprintf("%s.to[%d]", path, j)))
	}
	out.Ports = c.ports(r.Ports, path)
	return out
}

// peer converts an ipBlock, or a podSelector and/or namespaceSelector.
func (c *netpolConverter) peer(p *networkingv1.NetworkPolicyPeer, path string) model.Peer {
	out := model.Peer{Source: c.src}
	if p.IPBlock != nil {
		out.IPBlock = c.ipBlock(p.IPBlock, path+".ipBlock")
	}
	if p.PodSelector != nil {
		out.PodSelector = c.selector(p.PodSelector, path+".podSelector")
	}
	if p.NamespaceSelector != nil {
		out.NamespaceSelector = c.selector(p.NamespaceSelector, path+".namespaceSelector")
	}
	switch {
	case out.IPBlock != nil && (out.PodSelector != nil || out.NamespaceSelector != nil):
		c.failf(path, "ipBlock cannot be combined with podSelector or namespaceSelector")
	case out.IPBlock == nil && out.PodSelector == nil && out.NamespaceSelector == nil:
		c.failf(path, "empty peer: set ipBlock, podSelector or namespaceSelector")
	}
	return out
}

// ipBlock converts an ipBlock with the same checks as the manifest loader
// (model.IPBlock.SetCIDR and AddExcept).
func (c *netpolConverter) ipBlock(b *networkingv1.IPBlock, path string) *model.IPBlock {
	out := &model.IPBlock{Source: c.src, RawCIDR: b.CIDR}
	if b.CIDR == "" {
		c.failf(path+".cidr", "required field missing")
		return out
	}
	if problem := out.SetCIDR(b.CIDR); problem != "" {
		c.failf(path+".cidr", "%s", problem)
		return out
	}
	for i, raw := range b.Except {
		if problem := out.AddExcept(raw); problem != "" {
			c.failf(fmt.Sprintf("%s.except[%d]", path, i), "%s", problem)
		}
	}
	return out
}

func (c *netpolConverter) ports(ports []networkingv1.NetworkPolicyPort, path string) []model.Port {
	var out []model.Port
	for i := range ports {
		out = append(out, c.port(&ports[i], fmt.Sprintf("%s.ports[%d]", path, i)))
	}
	return out
}

// port converts a port entry: TCP by default, and a number, a named port,
// or nothing for every port.
func (c *netpolConverter) port(p *networkingv1.NetworkPolicyPort, path string) model.Port {
	out := model.Port{Protocol: model.TCP, Source: c.src}
	if p.Protocol != nil {
		switch proto := model.Protocol(*p.Protocol); proto {
		case model.TCP, model.UDP, model.SCTP:
			out.Protocol = proto
		default:
			c.failf(path+".protocol", "unsupported protocol %q (want TCP, UDP or SCTP)", proto)
		}
	}
	if p.Port != nil {
		c.portValue(&out, p.Port, path+".port")
	}
	if p.EndPort != nil {
		c.endPort(&out, int64(*p.EndPort), path+".endPort")
	}
	return out
}

func (c *netpolConverter) portValue(out *model.Port, v *intstr.IntOrString, path string) {
	switch {
	case v.Type == intstr.Int:
		n := int64(v.IntVal)
		if n < 1 || n > 65535 {
			c.failf(path, "port %d is out of range 1-65535", n)
		}
		out.Number = int32(max(min(n, 65535), 0))
	case isDigits(v.StrVal):
		c.failf(path, "port %q is a quoted number, which the API reads as a port name; write %s without quotes", v.StrVal, v.StrVal)
	default:
		if errs := validation.IsValidPortName(v.StrVal); len(errs) > 0 {
			c.failf(path, "invalid port name %q: %s", v.StrVal, strings.Join(errs, "; "))
			return
		}
		out.Name = v.StrVal
	}
}

// endPort needs a numeric port no larger than it.
func (c *netpolConverter) endPort(out *model.Port, v int64, path string) {
	switch {
	case out.Name != "":
		c.failf(path, "not allowed with a named port")
	case out.Number == 0:
		c.failf(path, "requires a numeric port")
	case v > 65535:
		c.failf(path, "%d is out of range 1-65535", v)
	case v < int64(out.Number):
		c.failf(path, "%d must be greater than or equal to port %d", v, out.Number)
	default:
		out.EndPort = int32(v)
	}
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// selector converts a label selector; a problem leaves it selecting
// nothing, as in the manifest loader.
func (c *netpolConverter) selector(ls *metav1.LabelSelector, path string) *model.Selector {
	sel := &model.Selector{Source: c.src, Compiled: labels.Nothing(), MatchLabels: ls.MatchLabels}
	bad := false
	for i, r := range ls.MatchExpressions {
		req := model.Requirement{Key: r.Key, Operator: string(r.Operator), Values: r.Values}
		p := fmt.Sprintf("%s.matchExpressions[%d]", path, i)
		switch req.Operator {
		case "In", "NotIn":
			if len(req.Values) == 0 {
				c.failf(p+".values", "must not be empty for operator %s", req.Operator)
				bad = true
				continue
			}
		case "Exists", "DoesNotExist":
			if len(req.Values) > 0 {
				c.failf(p+".values", "must be empty for operator %s", req.Operator)
				bad = true
				continue
			}
		default:
			c.failf(p+".operator", "unsupported operator %q (want In, NotIn, Exists or DoesNotExist)", req.Operator)
			bad = true
			continue
		}
		sel.MatchExpressions = append(sel.MatchExpressions, req)
	}
	if bad {
		return sel
	}
	compiled, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		c.failf(path, "invalid selector: %v", err)
		return sel
	}
	sel.Compiled = compiled
	return sel
}
