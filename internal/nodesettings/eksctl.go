package nodesettings

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// eksctlSettings applies what eksctl writes into the launch template of a
// node group it makes, from its own switches (see docs/node-settings.md):
// http_tokens required when disableIMDSv1 or disablePodIMDS is on, else
// optional; hop limit 1 with disablePodIMDS, else 2; disableIMDSv1 defaults
// to true and disablePodIMDS to false. eksctl does not say whether it
// enables the IPv6 endpoint, so an unset one is not read as disabled.
func eksctlSettings(cfg *model.NodeConfig, s awsSettings) awsSettings {
	v1 := eksctlSwitch(cfg.AWS.EksctlDisableIMDSv1, true, cfg.Source)
	pod := eksctlSwitch(cfg.AWS.EksctlDisablePodIMDS, false, cfg.Source)
	s.via = "eksctl " + describeSwitch("disableIMDSv1", cfg.AWS.EksctlDisableIMDSv1, "true") +
		", " + describeSwitch("disablePodIMDS", cfg.AWS.EksctlDisablePodIMDS, "false") + " gives "
	if s.tokens.State == model.Unset {
		s.tokens = eksctlTokens(v1, pod)
	}
	if s.hop.State == model.Unset {
		s.hop = eksctlHop(pod)
	}
	if s.ipv6.State == model.Unset {
		s.ipv6Unknown = "eksctl node group: whether eksctl enables the IPv6 metadata endpoint (http_protocol_ipv6) is not documented"
	}
	return s
}

// eksctlSwitch is a switch with eksctl's default applied when unset.
func eksctlSwitch(v model.Value, def bool, at model.Source) model.Value {
	if v.State != model.Unset {
		return v
	}
	raw := "false"
	if def {
		raw = "true"
	}
	return model.Value{State: model.Set, Raw: raw, Source: at}
}

func describeSwitch(name string, v model.Value, def string) string {
	if v.State == model.Unset {
		return name + " unset (default " + def + ")"
	}
	return describe(name, v)
}

func isTrue(v model.Value) bool  { return v.State == model.Set && v.Raw == "true" }
func isFalse(v model.Value) bool { return v.State == model.Set && v.Raw == "false" }

func eksctlTokens(v1, pod model.Value) model.Value {
	switch {
	case isTrue(pod):
		return model.Value{State: model.Set, Raw: "required", Source: pod.Source}
	case isTrue(v1):
		return model.Value{State: model.Set, Raw: "required", Source: v1.Source}
	case isFalse(v1) && isFalse(pod):
		return model.Value{State: model.Set, Raw: "optional", Source: v1.Source}
	}
	if !isFalse(pod) {
		return model.Value{State: model.Unresolved, Source: pod.Source, Why: "it follows " + describe("disablePodIMDS", pod)}
	}
	return model.Value{State: model.Unresolved, Source: v1.Source, Why: "it follows " + describe("disableIMDSv1", v1)}
}

func eksctlHop(pod model.Value) model.Value {
	switch {
	case isTrue(pod):
		return model.Value{State: model.Set, Raw: "1", Source: pod.Source}
	case isFalse(pod):
		return model.Value{State: model.Set, Raw: "2", Source: pod.Source}
	}
	return model.Value{State: model.Unresolved, Source: pod.Source, Why: "it follows " + describe("disablePodIMDS", pod)}
}
