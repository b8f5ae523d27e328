package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// NodeProfileKind is the Kind of the node settings a profile declares.
const NodeProfileKind = "node profile"

// profileField is one setting a profile may declare: the model value it
// fills and the values it accepts (nil: any, checked by check).
type profileField struct {
	set    func(c *model.NodeConfig, v model.Value)
	values []string
	check  func(string) error
}

var hopLimit = func(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 64 {
		return fmt.Errorf("want a number from 1 to 64, not %q", s)
	}
	return nil
}

// profileFields are the settings per cloud, named as in the cloud's API.
var profileFields = map[string]map[string]profileField{
	"aws": {
		"httpEndpoint":            {set: func(c *model.NodeConfig, v model.Value) { c.AWS.HTTPEndpoint = v }, values: []string{"enabled", "disabled"}},
		"httpTokens":              {set: func(c *model.NodeConfig, v model.Value) { c.AWS.HTTPTokens = v }, values: []string{"optional", "required"}},
		"httpPutResponseHopLimit": {set: func(c *model.NodeConfig, v model.Value) { c.AWS.HopLimit = v }, check: hopLimit},
		"httpProtocolIpv6":        {set: func(c *model.NodeConfig, v model.Value) { c.AWS.HTTPProtocolIPv6 = v }, values: []string{"enabled", "disabled"}},
	},
	"gcp": {
		"workloadMetadataMode": {set: func(c *model.NodeConfig, v model.Value) { c.GKE.WorkloadMetadataMode = v },
			values: []string{"GKE_METADATA", "GCE_METADATA", "MODE_UNSPECIFIED", "GKE_METADATA_SERVER", "SECURE", "EXPOSE", "UNSPECIFIED"}},
		"disableLegacyEndpoints": {set: func(c *model.NodeConfig, v model.Value) { c.GKE.DisableLegacyEndpoints = v }, values: []string{"true", "false"}},
		"workloadPool":           {set: func(c *model.NodeConfig, v model.Value) { c.GKE.WorkloadPool = v }, check: func(string) error { return nil }},
	},
	"azure": {
		"oidcIssuerEnabled":       {set: func(c *model.NodeConfig, v model.Value) { c.AKS.OIDCIssuerEnabled = v }, values: []string{"true", "false"}},
		"workloadIdentityEnabled": {set: func(c *model.NodeConfig, v model.Value) { c.AKS.WorkloadIdentityEnabled = v }, values: []string{"true", "false"}},
	},
}

// newProfile returns an empty profile's node settings for a cloud.
func newProfile(name, cloud string, src model.Source) (*model.NodeConfig, error) {
	if _, ok := profileFields[cloud]; !ok {
		return nil, fmt.Errorf("cloud %q: want aws, gcp or azure", cloud)
	}
	c := &model.NodeConfig{Cloud: cloud, Kind: NodeProfileKind, Name: name, Source: src}
	switch cloud {
	case "aws":
		c.AWS = &model.AWSMetadataOptions{}
	case "gcp":
		c.GKE = &model.GKEMetadata{}
	case "azure":
		c.AKS = &model.AKSIdentity{}
	}
	return c, nil
}

// setField sets one declared setting after checking its value.
func setField(c *model.NodeConfig, key, raw string, src model.Source) error {
	f, ok := profileFields[c.Cloud][key]
	if !ok {
		return fmt.Errorf("unknown %s setting %q (want %s)", c.Cloud, key, strings.Join(fieldNames(c.Cloud), ", "))
	}
	if f.check != nil {
		if err := f.check(raw); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
	} else if !contains(f.values, raw) {
		return fmt.Errorf("%s: want %s, not %q", key, strings.Join(f.values, " or "), raw)
	}
	f.set(c, model.Value{State: model.Set, Raw: raw, Source: src})
	return nil
}

func fieldNames(cloud string) []string {
	var out []string
	for k := range profileFields[cloud] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// ParseNodeProfileFlag reads a --node-profile value,
// "CLOUD:KEY=VALUE,KEY=VALUE", e.g. "aws:httpTokens=required,httpPutResponseHopLimit=1".
// The profile applies to every node of that cloud.
func ParseNodeProfileFlag(s string) (*model.NodeConfig, error) {
	cloud, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("--node-profile %q: want CLOUD:KEY=VALUE[,KEY=VALUE...]", s)
	}
	src := model.Source{File: "--node-profile " + s}
	c, err := newProfile("--node-profile", cloud, src)
	if err != nil {
		return nil, fmt.Errorf("--node-profile %q: %v", s, err)
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--node-profile %q: %q is not KEY=VALUE", s, kv)
		}
		if err := setField(c, strings.TrimSpace(k), strings.TrimSpace(v), src); err != nil {
			return nil, fmt.Errorf("--node-profile %q: %v", s, err)
		}
	}
	return c, nil
}

// nodeProfile is a nodeProfiles entry of the config file, read by hand
// from its node so that every error and every value keeps its line.
type nodeProfile struct {
	cfg *model.NodeConfig
}

// UnmarshalYAML reads one profile:
//
//   - name: secure-pool
//     cloud: aws
//     nodeLabels: {eks.amazonaws.com/nodegroup: secure}
//     settings: {httpTokens: required, httpPutResponseHopLimit: 1}
func (p *nodeProfile) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a node profile is a mapping", n.Line)
	}
	fields := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch k.Value {
		case "name", "cloud", "nodeLabels", "settings":
		default:
			return fmt.Errorf("line %d: unknown field %q in a node profile (want name, cloud, nodeLabels, settings)", k.Line, k.Value)
		}
		if _, dup := fields[k.Value]; dup {
			return fmt.Errorf("line %d: duplicate field %q", k.Line, k.Value)
		}
		fields[k.Value] = n.Content[i+1]
	}
	for _, req := range []string{"name", "cloud", "settings"} {
		if fields[req] == nil {
			return fmt.Errorf("line %d: a node profile needs %s", n.Line, req)
		}
	}
	name, cloud := fields["name"], fields["cloud"]
	if name.Kind != yaml.ScalarNode || cloud.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: name and cloud are strings", n.Line)
	}
	c, err := newProfile(name.Value, cloud.Value, model.Source{Line: n.Line})
	if err != nil {
		return fmt.Errorf("line %d: %v", cloud.Line, err)
	}
	if l := fields["nodeLabels"]; l != nil {
		var labels map[string]string
		if err := l.Decode(&labels); err != nil {
			return fmt.Errorf("line %d: nodeLabels: %v", l.Line, err)
		}
		c.NodeLabels = labels
	}
	s := fields["settings"]
	if s.Kind != yaml.MappingNode || len(s.Content) == 0 {
		return fmt.Errorf("line %d: settings is a mapping with at least one setting", s.Line)
	}
	for i := 0; i+1 < len(s.Content); i += 2 {
		k, v := s.Content[i], s.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s is a scalar", v.Line, k.Value)
		}
		if err := setField(c, k.Value, v.Value, model.Source{Line: v.Line}); err != nil {
			return fmt.Errorf("line %d: %v", k.Line, err)
		}
	}
	p.cfg = c
	return nil
}

// inFile sets the file of every source in a profile read from it.
func inFile(c *model.NodeConfig, file string) {
	c.Source.File = file
	for _, v := range values(c) {
		if v.State == model.Set {
			v.Source.File = file
		}
	}
}

func values(c *model.NodeConfig) []*model.Value {
	switch {
	case c.AWS != nil:
		return []*model.Value{&c.AWS.HTTPEndpoint, &c.AWS.HTTPTokens, &c.AWS.HopLimit, &c.AWS.HTTPProtocolIPv6}
	case c.GKE != nil:
		return []*model.Value{&c.GKE.WorkloadMetadataMode, &c.GKE.DisableLegacyEndpoints, &c.GKE.WorkloadPool}
	case c.AKS != nil:
		return []*model.Value{&c.AKS.OIDCIssuerEnabled, &c.AKS.WorkloadIdentityEnabled}
	}
	return nil
}
