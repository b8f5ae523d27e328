package generate

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

// NodeFixes returns the node-setting changes that close what the node audit
// found, one artifact per node setting, in the language of the setting's
// source: a Terraform block, a CloudFormation resource, an eksctl node
// group, or AWS CLI commands for instances and launch template versions
// exported from a live account; and, for Node objects that no setting
// describes, aws, gcloud or az commands for their node groups. A setting
// is fixed when it serves the node's credentials to pod-network pods, or
// is not shown to withhold them (IMDS-008 and the Unknown verdicts of the
// node layer), when it leaves IMDSv1 on (IMDS-011), when it leaves the GKE
// legacy metadata endpoints on (IMDS-010), or when an AKS cluster runs
// without workload identity (IMDS-012). A node group that takes its
// settings from a launch template is fixed at the template. Artifacts are
// sorted by file.
func NodeFixes(inv *model.Inventory) []Artifact {
	var out []Artifact
	used := map[string]int{}
	for _, f := range nodeFixes(inv.NodeConfigs) {
		body, ext := f.render()
		if body == "" {
			continue
		}
		file := "node/" + safeName(sourceBase(f.cfg)) + "." + safeName(f.resourceName()) + ext
		if n := used[file]; n > 0 {
			file = strings.TrimSuffix(file, ext) + fmt.Sprintf("-%d", n+1) + ext
		}
		used[file]++
		why := f.why()
		out = append(out, Artifact{Group: GroupNode, File: file, Raw: []byte(Header + comment(why) + body), Why: why})
	}
	out = append(out, liveNodeFixes(inv)...)
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// nodeFixes decides what each setting needs. The exported versions of one
// launch template share one fix: a new version made from the latest
// version read, named after the latest version that needs it.
func nodeFixes(all []*model.NodeConfig) []*nodeFix {
	var out []*nodeFix
	byTemplate := map[string]*nodeFix{}
	latest := map[string]int{}
	for _, c := range all {
		if c.Kind == awsCLIVersionsKind {
			latest[templateID(c.Name)] = max(latest[templateID(c.Name)], versionNumber(c.Name))
		}
	}
	for _, c := range all {
		f := nodeFixFor(c, all)
		if f == nil {
			continue
		}
		if c.Kind != awsCLIVersionsKind {
			out = append(out, f)
			continue
		}
		id := templateID(c.Name)
		f.sourceVersion = latest[id]
		prev := byTemplate[id]
		switch {
		case prev == nil:
			byTemplate[id] = f
			out = append(out, f)
		case versionNumber(c.Name) > versionNumber(prev.cfg.Name):
			f.also = append(prev.also, prev.cfg)
			*prev = *f
		default:
			prev.also = append(prev.also, c)
		}
	}
	return out
}

// nodeFix is what one node setting needs.
type nodeFix struct {
	cfg *model.NodeConfig // as read
	// problem says what is wrong, in plain words.
	problem string
	// AWS: require IMDSv2 with hop limit 1. stale names the settings that
	// refer to the template by a version the fix does not reach.
	aws   bool
	stale []*model.NodeConfig
	// GKE: run the GKE metadata server; turn the legacy endpoints off;
	// give the cluster a workload pool (GKE_METADATA needs one).
	gkeMode, gkeLegacy, gkePool bool
	// AKS: enable the OIDC issuer and workload identity.
	aksIdentity bool
	// also are other exported versions of the same launch template that
	// need the fix, and sourceVersion the latest version read: one new
	// version, made from it, covers them all.
	also          []*model.NodeConfig
	sourceVersion int
}

// nodeFixFor decides what c needs, or nil when nothing.
func nodeFixFor(c *model.NodeConfig, all []*model.NodeConfig) *nodeFix {
	f := &nodeFix{cfg: c}
	switch {
	case c.Cloud == "aws" && c.AWS != nil:
		eff, _ := nodesettings.Resolve(c, all)
		if eff == nil || eff.Kind != c.Kind || eff.Name != c.Name {
			return nil // open, or its template's settings: fixed there
		}
		for _, family := range []nodesettings.Family{nodesettings.IPv4, nodesettings.IPv6} {
			if o := nodesettings.Evaluate(eff, nodesettings.PodNetwork, family); o.Verdict != nodesettings.CredentialsWithheld {
				f.aws, f.problem = true, fmt.Sprintf("%s to pod-network pods at the %s endpoint: %s", o.Verdict, family, o.Reason)
				break
			}
		}
		if v1, why, _ := nodesettings.IMDSv1(eff); v1 == nodesettings.On && !f.aws {
			f.aws, f.problem = true, "IMDSv1 is on: "+why
		}
		f.stale = staleReferrers(c, all)
	case c.Cloud == "gcp" && c.GKE != nil:
		o := nodesettings.Evaluate(c, nodesettings.PodNetwork, nodesettings.IPv4)
		var problems []string
		if o.Verdict != nodesettings.CredentialsWithheld {
			f.gkeMode = true
			f.gkePool = c.GKE.WorkloadPool.State != model.Set
			problems = append(problems, fmt.Sprintf("%s to pod-network pods: %s", o.Verdict, o.Reason))
		}
		if l := c.GKE.DisableLegacyEndpoints; l.State == model.Set && l.Raw == "false" {
			f.gkeLegacy = true
			if f.gkeMode {
				problems = append(problems, "the legacy endpoints would stay on for hostNetwork pods")
			} else {
				problems = append(problems, "disable-legacy-endpoints = false leaves the legacy metadata endpoints on for pods that reach the Compute Engine metadata server")
			}
		}
		f.problem = strings.Join(problems, "; ")
	case c.Cloud == "azure" && c.AKS != nil:
		if nodesettings.Evaluate(c, nodesettings.PodNetwork, nodesettings.IPv4).WorkloadIdentity == nodesettings.Off {
			f.aksIdentity = true
			f.problem = "Microsoft Entra Workload ID is off, so pods have no Azure identity but the node's"
		}
	}
	if f.problem == "" {
		return nil
	}
	return f
}

// staleReferrers are the settings that refer to template c by a version
// other than its latest: a new template version does not reach them until
// the default version moves or they follow the latest.
func staleReferrers(c *model.NodeConfig, all []*model.NodeConfig) []*model.NodeConfig {
	var out []*model.NodeConfig
	for _, r := range all {
		ref := r.RefersTo
		if ref == nil || ref.Kind != c.Kind || ref.Name != c.Name {
			continue
		}
		if ref.Version != "$Latest" && ref.Version != c.Name+".latest_version" {
			out = append(out, r)
		}
	}
	return out
}

// why is the artifact's explanation: what it fixes and why.
func (f *nodeFix) why() string {
	c := f.cfg
	s := fmt.Sprintf("Fixes %s %s (%s): %s.", c.Kind, c.Name, c.Source, f.problem)
	for _, o := range f.also {
		s += fmt.Sprintf(" The new version also stands for %s %s (%s), which needs the same fix.", o.Kind, o.Name, o.Source)
	}
	for _, r := range f.stale {
		s += fmt.Sprintf(" %s %s (%s) uses version %q of this template, which a new version does not reach", r.Kind, r.Name, r.RefersTo.Source, versionOrDefault(r.RefersTo.Version))
		if c.Kind == "aws_launch_template" {
			s += ": update_default_version makes the new version the default (drop default_version if it is set)."
		} else {
			s += ": point it at the latest version, or make the new version the default."
		}
	}
	return s
}

func versionOrDefault(v string) string {
	if v == "" {
		return "$Default"
	}
	return v
}

// render writes the fix in the language of its source, with the file's
// extension; "" when the source's kind has no fix written here.
func (f *nodeFix) render() (string, string) {
	switch kind := f.cfg.Kind; {
	case strings.HasPrefix(kind, "aws_"), strings.HasPrefix(kind, "google_"), strings.HasPrefix(kind, "azurerm_"):
		return f.terraform(), ".tf"
	case strings.HasPrefix(kind, "AWS::"):
		return f.cloudFormation(), ".yaml"
	case strings.HasPrefix(kind, "eksctl "):
		return f.eksctl(), ".yaml"
	case strings.HasPrefix(kind, "ec2 "):
		return f.awsCLI(), ".sh"
	}
	return "", ""
}

// resourceName names the fixed resource within its source, for the file
// name: a Terraform address, a logical ID, a node group, an instance.
func (f *nodeFix) resourceName() string {
	if f.cfg.Kind == "ec2 get-launch-template-data" {
		return "launch-template-data"
	}
	return f.cfg.Name
}

// sourceBase is the source file's name without its last extension.
func sourceBase(c *model.NodeConfig) string {
	base := filepath.Base(c.Source.File)
	if base == "." || base == "/" || base == "" {
		return "input"
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName keeps a name usable in a file name.
func safeName(s string) string {
	return strings.Trim(unsafeChars.ReplaceAllString(s, "-"), "-.")
}

// metadataSettings are the AWS metadata options a fix writes: IMDSv2
// required with hop limit 1, and the options the source already sets to a
// valid value kept as they are (a replaced block would drop them).
type metadataSettings struct {
	endpoint, ipv6, tags string
}

func keptSettings(o *model.AWSMetadataOptions) metadataSettings {
	keep := func(v model.Value) string {
		if v.State == model.Set && (v.Raw == "enabled" || v.Raw == "disabled") {
			return v.Raw
		}
		return ""
	}
	return metadataSettings{endpoint: keep(o.HTTPEndpoint), ipv6: keep(o.HTTPProtocolIPv6), tags: keep(o.InstanceTags)}
}

// awsCLIVersionsKind is the Kind of launch template versions exported with
// the AWS CLI, named "ID:N".
const awsCLIVersionsKind = "ec2 describe-launch-template-versions"

// templateID and versionNumber split an exported version's name "ID:N".
func templateID(name string) string {
	if i := strings.LastIndex(name, ":"); i > 0 {
		return name[:i]
	}
	return name
}

func versionNumber(name string) int {
	n, _ := strconv.Atoi(name[strings.LastIndex(name, ":")+1:])
	return n
}
