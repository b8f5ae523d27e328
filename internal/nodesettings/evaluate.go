package nodesettings

import (
	"fmt"
	"slices"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Evaluate says what cfg's metadata settings let a pod of class obtain from
// the node's metadata endpoint of family. cfg should be the effective
// settings (see Resolve); a config that still refers to another one is
// Unknown.
func Evaluate(cfg *model.NodeConfig, class Class, family Family) Outcome {
	if cfg == nil {
		return unknown("no node settings")
	}
	if cfg.RefersTo != nil {
		return unknown(fmt.Sprintf("%s %s takes its settings from %s %s: resolve it first", cfg.Kind, cfg.Name, cfg.RefersTo.Kind, cfg.RefersTo.Name), cfg.RefersTo.Source)
	}
	switch {
	case cfg.Cloud == "aws" && cfg.AWS != nil:
		return evaluateAWS(cfg, class, family)
	case cfg.Cloud == "gcp" && cfg.GKE != nil:
		g := *cfg.GKE
		for _, v := range []*model.Value{&g.WorkloadMetadataMode, &g.DisableLegacyEndpoints, &g.WorkloadPool} {
			placeAt(v, cfg.Source)
		}
		return evaluateGKE(&g, class, family)
	case cfg.Cloud == "azure" && cfg.AKS != nil:
		a := *cfg.AKS
		for _, v := range []*model.Value{&a.OIDCIssuerEnabled, &a.WorkloadIdentityEnabled} {
			placeAt(v, cfg.Source)
		}
		return evaluateAKS(&a, class, family)
	}
	return unknown(fmt.Sprintf("%s %s: no metadata settings for cloud %q were read", cfg.Kind, cfg.Name, cfg.Cloud), cfg.Source)
}

// outcome builds an Outcome with the GKE and AKS facts switched off.
func outcome(v Verdict, reason string, sources ...model.Source) Outcome {
	return Outcome{Verdict: v, Reason: reason, Sources: distinct(sources), LegacyEndpoints: Off, WorkloadIdentity: Off}
}

// distinct drops empty and repeated sources (eksctl's defaults all point
// at the node group), keeping the order.
func distinct(sources []model.Source) []model.Source {
	var out []model.Source
	for _, s := range sources {
		if s != (model.Source{}) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func served(reason string, sources ...model.Source) Outcome {
	return outcome(CredentialsServed, reason, sources...)
}

func withheld(reason string, sources ...model.Source) Outcome {
	return outcome(CredentialsWithheld, reason, sources...)
}

func unknown(reason string, sources ...model.Source) Outcome {
	return outcome(Unknown, reason, sources...)
}

// placeAt gives a value written nowhere the source of its resource.
func placeAt(v *model.Value, at model.Source) {
	if v.Source == (model.Source{}) {
		v.Source = at
	}
}

// describe renders a setting for a reason: `name = "raw"`, `name unset` or
// `name unresolved (why)`.
func describe(name string, v model.Value) string {
	switch v.State {
	case model.Set:
		return fmt.Sprintf("%s = %s", name, v.Raw)
	case model.Unresolved:
		if v.Why != "" {
			return fmt.Sprintf("%s unresolved (%s)", name, v.Why)
		}
		return name + " unresolved"
	}
	return name + " unset"
}
