package nodesettings

import (
	"fmt"
	"strconv"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The Kinds of eksctl node groups, as the eksctl loader names them. A test
// keeps them in step with the loader.
const (
	eksctlNodeGroupKind        = "eksctl nodeGroup"
	eksctlManagedNodeGroupKind = "eksctl managedNodeGroup"
)

// awsSettings are the IMDS options that decide, after eksctl's defaults.
type awsSettings struct {
	endpoint, tokens, hop, ipv6, state model.Value
	// ipv6Unknown, when set, says why an unset IPv6 switch cannot be read
	// as AWS's default.
	ipv6Unknown string
	// via names where tokens and hop came from when not written directly
	// (eksctl's defaults).
	via string
}

func evaluateAWS(cfg *model.NodeConfig, class Class, family Family) Outcome {
	return awsSettingsOf(cfg).evaluate(class, family)
}

// awsSettingsOf reads cfg's options, with eksctl's defaults applied.
func awsSettingsOf(cfg *model.NodeConfig) awsSettings {
	s := awsSettings{
		endpoint: cfg.AWS.HTTPEndpoint, tokens: cfg.AWS.HTTPTokens, hop: cfg.AWS.HopLimit,
		ipv6: cfg.AWS.HTTPProtocolIPv6, state: cfg.AWS.State,
	}
	// A setting left out is placed at its resource, where it would be written.
	for _, v := range []*model.Value{&s.endpoint, &s.tokens, &s.hop, &s.ipv6, &s.state} {
		placeAt(v, cfg.Source)
	}
	if cfg.Kind == eksctlNodeGroupKind || cfg.Kind == eksctlManagedNodeGroupKind {
		s = eksctlSettings(cfg, s)
	}
	return s
}

func (s awsSettings) evaluate(class Class, family Family) Outcome {
	switch st := s.state; {
	case st.State == model.Unresolved:
		return unknown(describe("metadata options state", st)+": whether the options are applied is not known", st.Source)
	case st.State == model.Set && st.Raw == "pending":
		return unknown("metadata options state = pending: the instance is not yet serving metadata with these options", st.Source)
	case st.State == model.Set && st.Raw != "applied":
		return unknown(fmt.Sprintf("metadata options state = %s is not a state AWS reports", st.Raw), st.Source)
	}
	switch e := s.endpoint; {
	case e.State == model.Set && e.Raw == "disabled":
		return withheld("http_endpoint = disabled: the instance metadata service is off for every process on the node", e.Source)
	case e.State == model.Set && e.Raw != "enabled":
		return unknown(fmt.Sprintf("http_endpoint = %s is not a value AWS accepts (enabled, disabled)", e.Raw), e.Source)
	case e.State == model.Unresolved:
		// A disabled endpoint would withhold; an enabled one leaves the
		// rest to decide. Only a withheld rest holds either way.
		if r := s.family(class, family); r.Verdict == CredentialsWithheld {
			return r
		}
		return unknown(describe("http_endpoint", e)+": a disabled endpoint would withhold credentials, an enabled one would not", e.Source)
	}
	return s.family(class, family)
}

// family decides for an enabled endpoint: the IPv6 endpoint answers only
// when http_protocol_ipv6 is enabled, and then as the IPv4 one does.
func (s awsSettings) family(class Class, family Family) Outcome {
	r := s.tokensAndHop(class)
	if family == IPv4 {
		return r
	}
	v := s.ipv6
	switch {
	case v.State == model.Set && v.Raw == "enabled":
		if r.Verdict == CredentialsServed {
			r.Reason = "http_protocol_ipv6 = enabled, so fd00:ec2::254 serves as 169.254.169.254 does; " + r.Reason
			r.Sources = distinct(append(r.Sources, v.Source))
		}
		return r
	case v.State == model.Set && v.Raw != "disabled":
		return unknown(fmt.Sprintf("http_protocol_ipv6 = %s is not a value AWS accepts (enabled, disabled)", v.Raw), v.Source)
	case v.State == model.Unset && s.ipv6Unknown != "":
		if r.Verdict == CredentialsWithheld {
			return r
		}
		return unknown(s.ipv6Unknown, v.Source)
	case v.State == model.Unresolved:
		if r.Verdict == CredentialsWithheld {
			return r
		}
		return unknown(describe("http_protocol_ipv6", v)+": an enabled IPv6 endpoint would serve as the IPv4 one does", v.Source)
	}
	return withheld(describe("http_protocol_ipv6", v)+" (AWS's default is disabled): the IPv6 endpoint fd00:ec2::254 does not answer; the IPv4 endpoint is decided separately", v.Source)
}

// tokensAndHop decides for an enabled endpoint from http_tokens and the PUT
// response hop limit.
func (s awsSettings) tokensAndHop(class Class) Outcome {
	t, h := s.tokens, s.hop
	via := s.via
	switch {
	case t.State == model.Unset || (t.State == model.Set && t.Raw == "optional"):
		return served(via+describe("http_tokens", t)+": IMDSv1 answers without a token, so any process that reaches the endpoint gets credentials; the hop limit only limits the IMDSv2 token response", t.Source)
	case t.State == model.Set && t.Raw != "required":
		return unknown(fmt.Sprintf("http_tokens = %s is not a value AWS accepts (optional, required)", t.Raw), t.Source)
	case class == HostNetwork:
		// Whether tokens are required or not, a hostNetwork pod gets them:
		// it is in the node's network namespace, so the token response
		// crosses no extra hop.
		return served(via+describe("http_tokens", t)+": a hostNetwork pod shares the node's network namespace, so the IMDSv2 token response reaches it whatever the hop limit", t.Source)
	}
	n, hopOK := hopLimit(h)
	switch {
	case hopOK && n >= 2:
		return served(fmt.Sprintf("%s%s and hop limit %d: the IMDSv2 token response survives the extra hop into a pod's network namespace", via, describe("http_tokens", t), n), t.Source, h.Source)
	case t.State == model.Unresolved:
		return unknown(via+describe("http_tokens", t)+": optional would serve IMDSv1 to every pod", t.Source)
	case hopOK && n == 1:
		return withheld(via+"http_tokens = required and hop limit 1: the IMDSv2 token response cannot reach a pod's network namespace, and IMDSv1 is off", t.Source, h.Source)
	case h.State == model.Unset:
		return unknown(via+"http_tokens = required with the hop limit unset: the default depends on the AMI (2 for AMIs registered with IMDSv2 support, else 1) and on account-level defaults, which were not read", t.Source, h.Source)
	case h.State == model.Unresolved:
		return unknown(via+"http_tokens = required with "+describe("hop limit", h), t.Source, h.Source)
	}
	return unknown(fmt.Sprintf("hop limit %q is not a number from 1 to 64", h.Raw), h.Source)
}

func hopLimit(v model.Value) (int, bool) {
	if v.State != model.Set {
		return 0, false
	}
	n, err := strconv.Atoi(v.Raw)
	return n, err == nil && n >= 1 && n <= 64
}
