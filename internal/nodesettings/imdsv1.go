package nodesettings

import (
	"fmt"

	"github.com/imdsguard/imdsguard/internal/model"
)

// IMDSv1 says whether cfg's nodes answer IMDSv1: requests without a
// session token, which need neither a PUT nor a header, so that any
// process on the node or an SSRF bug that can make a GET gets credentials.
// It is On when the endpoint is enabled and http_tokens is optional or
// unset (the API's default), after eksctl's defaults; Off when the
// endpoint is disabled or tokens are required; Undetermined when a value
// is unresolved or not one AWS accepts, or the options are not applied
// yet. It also returns the reason and where the deciding setting is (or
// would be) written. cfg should be the effective settings (see Resolve).
func IMDSv1(cfg *model.NodeConfig) (Toggle, string, model.Source) {
	if cfg == nil || cfg.Cloud != "aws" || cfg.AWS == nil || cfg.RefersTo != nil {
		var at model.Source
		if cfg != nil {
			at = cfg.Source
		}
		return Undetermined, "no effective AWS metadata options", at
	}
	s := awsSettingsOf(cfg)
	switch st := s.state; {
	case st.State == model.Unresolved:
		return Undetermined, describe("metadata options state", st), st.Source
	case st.State == model.Set && st.Raw != "applied":
		return Undetermined, fmt.Sprintf("metadata options state = %s: the options read are not the ones served", st.Raw), st.Source
	}
	e, t := s.endpoint, s.tokens
	switch {
	case e.State == model.Set && e.Raw == "disabled":
		return Off, "http_endpoint = disabled", e.Source
	case e.State == model.Set && e.Raw != "enabled":
		return Undetermined, fmt.Sprintf("http_endpoint = %s is not a value AWS accepts (enabled, disabled)", e.Raw), e.Source
	case t.State == model.Set && t.Raw == "required":
		return Off, s.via + "http_tokens = required", t.Source
	case t.State == model.Unresolved:
		return Undetermined, s.via + describe("http_tokens", t), t.Source
	case t.State == model.Set && t.Raw != "optional":
		return Undetermined, fmt.Sprintf("http_tokens = %s is not a value AWS accepts (optional, required)", t.Raw), t.Source
	case e.State == model.Unresolved:
		return Undetermined, describe("http_endpoint", e) + " with IMDSv1 allowed by " + describe("http_tokens", t), e.Source
	}
	why := s.via + describe("http_tokens", t)
	if t.State == model.Unset {
		why += " (AWS's default is optional)"
	}
	return On, why + ": IMDSv1 answers a plain GET without a session token", t.Source
}
