package nodesettings

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The Kinds of launch templates that Resolve follows, as the loaders name
// them. A test keeps them in step with the loaders.
const (
	terraformLaunchTemplateKind = "aws_launch_template"
	terraformLaunchConfigKind   = "aws_launch_configuration"
	cfnLaunchTemplateKind       = "AWS::EC2::LaunchTemplate"
	awsCLIVersionsKind          = "ec2 describe-launch-template-versions"
)

// maxDepth bounds how many references Resolve follows.
const maxDepth = 8

var versionNumber = regexp.MustCompile(`^[1-9][0-9]*$`)

// Resolve follows cfg's RefersTo (a node group or instance to its launch
// template) across all and returns the effective settings: the referenced
// config's settings, overlaid with those cfg writes itself (an instance's
// own metadata_options override its template's), with cfg's node labels
// and cluster. A config that refers to nothing is returned as it is. When
// the settings cannot be known, Resolve returns nil and says why: the
// reference names nothing read, or several configs, or a launch template
// version whose settings the input does not show.
func Resolve(cfg *model.NodeConfig, all []*model.NodeConfig) (*model.NodeConfig, string) {
	return resolve(cfg, all, 0)
}

func resolve(cfg *model.NodeConfig, all []*model.NodeConfig, depth int) (*model.NodeConfig, string) {
	if cfg == nil {
		return nil, "no node settings"
	}
	ref := cfg.RefersTo
	if ref == nil {
		return cfg, ""
	}
	if depth >= maxDepth {
		return nil, fmt.Sprintf("%s: more than %d references in a row (a loop?)", ref.Source, maxDepth)
	}
	what := fmt.Sprintf("%s: %s %s refers to %s %q", ref.Source, cfg.Kind, cfg.Name, ref.Kind, ref.Name)
	if ref.Name == "" || strings.HasPrefix(ref.Name, "(") {
		return nil, what + ", a reference that could not be resolved"
	}
	if (cfg.Kind == eksctlNodeGroupKind || cfg.Kind == eksctlManagedNodeGroupKind) && cfg.AWS != nil &&
		(cfg.AWS.EksctlDisableIMDSv1.State != model.Unset || cfg.AWS.EksctlDisablePodIMDS.State != model.Unset) {
		return nil, what + " and also sets disableIMDSv1 or disablePodIMDS: which of the two eksctl applies is not documented"
	}
	name, why := targetName(ref)
	if why != "" {
		return nil, what + ": " + why
	}
	var found []*model.NodeConfig
	for _, c := range all {
		if c != cfg && c.Kind == ref.Kind && c.Name == name {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, what + ", which is not among the settings read"
	case 1:
	default:
		at := make([]string, len(found))
		for i, c := range found {
			at[i] = c.Source.String()
		}
		return nil, fmt.Sprintf("%s, which names %d configs (%s)", what, len(found), strings.Join(at, ", "))
	}
	target, why := resolve(found[0], all, depth+1)
	if target == nil {
		return nil, why
	}
	if cfg.Cloud != "" && target.Cloud != "" && cfg.Cloud != target.Cloud {
		return nil, fmt.Sprintf("%s, which is a %s config, not %s", what, target.Cloud, cfg.Cloud)
	}
	return overlay(cfg, target), ""
}

// targetName is the Name of the config ref stands for, or why the version
// it asks for is not the one read.
func targetName(ref *model.NodeConfigRef) (string, string) {
	v := ref.Version
	switch ref.Kind {
	case terraformLaunchConfigKind:
		// Launch configurations have no versions.
		return ref.Name, ""
	case awsCLIVersionsKind:
		// describe-launch-template-versions names each version ID:N.
		if versionNumber.MatchString(v) {
			return ref.Name + ":" + v, ""
		}
		if v == "" {
			v = "$Default"
		}
		return "", fmt.Sprintf("version %s: the settings read do not say which version number that is", v)
	case terraformLaunchTemplateKind, cfnLaunchTemplateKind:
		// The code describes the template's latest version. $Default (also
		// what an empty version means) is the latest only if every update
		// also moved the default, which the code read does not show.
		switch v {
		case "$Latest", ref.Name + ".latest_version":
			return ref.Name, ""
		case "", "$Default", ref.Name + ".default_version":
			if v == "" {
				v = "$Default (no version given)"
			}
			return "", fmt.Sprintf("version %s: the code describes the latest version, and whether the default version is the latest is not known", v)
		}
		return "", fmt.Sprintf("version %s: the code describes only the latest version, and it is not shown to be that one", v)
	}
	return "", fmt.Sprintf("references to %s are not followed", ref.Kind)
}

// overlay is target's settings, overridden by those cfg writes itself, with
// cfg's labels and cluster. The Kind and Name are target's, so that its
// defaults (not cfg's) apply.
func overlay(cfg, target *model.NodeConfig) *model.NodeConfig {
	out := *target
	out.NodeLabels = cfg.NodeLabels
	out.Cluster = cfg.Cluster
	out.RefersTo = nil
	if cfg.AWS != nil && target.AWS != nil {
		aws := *target.AWS
		own := cfg.AWS
		for _, f := range []struct{ dst, src *model.Value }{
			{&aws.HTTPEndpoint, &own.HTTPEndpoint},
			{&aws.HTTPTokens, &own.HTTPTokens},
			{&aws.HopLimit, &own.HopLimit},
			{&aws.HTTPProtocolIPv6, &own.HTTPProtocolIPv6},
			{&aws.InstanceTags, &own.InstanceTags},
			{&aws.State, &own.State},
		} {
			if f.src.State != model.Unset {
				*f.dst = *f.src
			}
		}
		out.AWS = &aws
	} else if cfg.AWS != nil {
		out.AWS = cfg.AWS
	}
	return &out
}
