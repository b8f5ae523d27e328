package generate_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/golden"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// nodeInventory scans the node settings of testdata/node/input.
func nodeInventory(t *testing.T, paths ...string) *model.Inventory {
	t.Helper()
	res, err := scan.Run(context.Background(), scan.Options{Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.InputErrors {
		t.Errorf("input error: %s", e.Error())
	}
	return res.Inventory
}

// TestNodeFixesGolden checks the fixes for one node setting of each kind
// and source against testdata/node/fixes.golden.
func TestNodeFixesGolden(t *testing.T) {
	arts := generate.NodeFixes(nodeInventory(t, "testdata/node/input"))
	var b strings.Builder
	for _, a := range arts {
		if a.Group != generate.GroupNode || a.IsObject() || a.Why == "" {
			t.Errorf("%s: group %s, object %t, why %q", a.File, a.Group, a.IsObject(), a.Why)
		}
		b.WriteString("=== " + a.File + "\n")
		b.Write(a.Raw)
	}
	golden.Check(t, "testdata/node/fixes.golden", b.String())
}

// TestNodeFixesAreValid parses every snippet in its language: HCL, YAML,
// and shell (bash -n) with valid JSON for the AWS CLI.
func TestNodeFixesAreValid(t *testing.T) {
	arts := generate.NodeFixes(nodeInventory(t, "testdata/node/input"))
	if len(arts) == 0 {
		t.Fatal("no fixes")
	}
	bash, _ := exec.LookPath("bash")
	jsonArg := regexp.MustCompile(`--launch-template-data '([^']*)'`)
	for _, a := range arts {
		switch filepath.Ext(a.File) {
		case ".tf":
			if _, diags := hclsyntax.ParseConfig(a.Raw, a.File, hcl.InitialPos); diags.HasErrors() {
				t.Errorf("%s: %s\n%s", a.File, diags.Error(), a.Raw)
			}
		case ".yaml":
			var n yaml.Node
			if err := yaml.Unmarshal(a.Raw, &n); err != nil {
				t.Errorf("%s: %v\n%s", a.File, err, a.Raw)
			}
		case ".sh":
			for _, m := range jsonArg.FindAllSubmatch(a.Raw, -1) {
				if !json.Valid(m[1]) {
					t.Errorf("%s: invalid JSON %s", a.File, m[1])
				}
			}
			if bash == "" {
				continue
			}
			cmd := exec.Command(bash, "-n")
			cmd.Stdin = strings.NewReader(string(a.Raw))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: bash -n: %v %s\n%s", a.File, err, out, a.Raw)
			}
		default:
			t.Errorf("%s: unexpected extension", a.File)
		}
	}
}

// TestNodeFixesClose is the proof for the node group: every Terraform,
// CloudFormation and eksctl fix, read back on its own by the scanner's
// loaders, withholds the node's credentials from pod-network pods at both
// endpoints with IMDSv1 off (AWS), serves the GKE metadata server with the
// legacy endpoints off (GKE), or enables workload identity (AKS).
func TestNodeFixesClose(t *testing.T) {
	arts := generate.NodeFixes(nodeInventory(t, "testdata/node/input"))
	arts = append(arts, generate.NodeFixes(nodeInventory(t, "../../examples"))...)
	checked := 0
	for _, a := range arts {
		if filepath.Ext(a.File) == ".sh" {
			continue
		}
		t.Run(a.File, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, filepath.Base(a.File))
			if err := os.WriteFile(file, a.Raw, 0o644); err != nil {
				t.Fatal(err)
			}
			inv := nodeInventory(t, file)
			targets := 0
			for _, c := range inv.NodeConfigs {
				// Only the setting fixed: a snippet may show other
				// resources for context (a cluster's workload pool).
				if strings.HasPrefix(a.Why, "Fixes "+c.Kind+" "+c.Name+" (") {
					checkClosed(t, c, inv.NodeConfigs)
					targets++
				}
			}
			if targets != 1 {
				t.Fatalf("the loaders read %d settings named as fixed (of %d) from\n%s", targets, len(inv.NodeConfigs), a.Raw)
			}
			checked++
		})
	}
	if checked < 14 {
		t.Errorf("only %d fixes read back", checked)
	}
}

func checkClosed(t *testing.T, c *model.NodeConfig, all []*model.NodeConfig) {
	t.Helper()
	eff, why := nodesettings.Resolve(c, all)
	if eff == nil {
		t.Errorf("%s %s: not resolved: %s", c.Kind, c.Name, why)
		return
	}
	switch c.Cloud {
	case "aws", "gcp":
		families := []nodesettings.Family{nodesettings.IPv4, nodesettings.IPv6}
		if c.Cloud == "gcp" {
			families = families[:1] // GKE's IPv6 is not covered
		}
		for _, f := range families {
			if o := nodesettings.Evaluate(eff, nodesettings.PodNetwork, f); o.Verdict != nodesettings.CredentialsWithheld {
				t.Errorf("%s %s %s: %s (%s)", c.Kind, c.Name, f, o.Verdict, o.Reason)
			}
		}
		if c.Cloud == "aws" {
			if v1, why, _ := nodesettings.IMDSv1(eff); v1 != nodesettings.Off {
				t.Errorf("%s %s: IMDSv1 %s (%s)", c.Kind, c.Name, v1, why)
			}
		}
		if o := nodesettings.Evaluate(eff, nodesettings.HostNetwork, nodesettings.IPv4); o.LegacyEndpoints == nodesettings.On {
			t.Errorf("%s %s: legacy endpoints still on", c.Kind, c.Name)
		}
	case "azure":
		if o := nodesettings.Evaluate(eff, nodesettings.PodNetwork, nodesettings.IPv4); o.WorkloadIdentity != nodesettings.On {
			t.Errorf("%s %s: workload identity %s", c.Kind, c.Name, o.WorkloadIdentity)
		}
	}
}

// TestLiveNodeFixesAKS checks that an AKS node gets the az command only
// when no AKS setting was read (that setting's own fix covers its nodes).
func TestLiveNodeFixesAKS(t *testing.T) {
	node := &model.Node{Name: "aks-1", ProviderID: "azure:///subscriptions/0/resourceGroups/mc/providers/Microsoft.Compute/virtualMachines/aks-1",
		Labels: model.Labels{"kubernetes.azure.com/agentpool": "system"}}
	aks := &model.NodeConfig{Cloud: "azure", Kind: "azurerm_kubernetes_cluster", Name: "azurerm_kubernetes_cluster.k",
		AKS: &model.AKSIdentity{OIDCIssuerEnabled: model.Value{State: model.Set, Raw: "true"}, WorkloadIdentityEnabled: model.Value{State: model.Set, Raw: "true"}}}
	for _, tt := range []struct {
		configs []*model.NodeConfig
		want    string
	}{
		{nil, "node/live.azure.sh"},
		{[]*model.NodeConfig{aks}, ""},
	} {
		inv := model.NewInventory()
		inv.Nodes, inv.NodeConfigs = []*model.Node{node}, tt.configs
		var got string
		for _, a := range generate.NodeFixes(inv) {
			got += a.File
			if !strings.Contains(string(a.Raw), "az aks update --resource-group RESOURCE_GROUP --name CLUSTER --enable-oidc-issuer --enable-workload-identity") {
				t.Errorf("%s:\n%s", a.File, a.Raw)
			}
		}
		if got != tt.want {
			t.Errorf("%d settings: artifacts %q, want %q", len(tt.configs), got, tt.want)
		}
	}
}

// TestNodeFixesCoverFindings ties the builder to the node audit: every
// finding of the node rules (IMDS-008, IMDS-010, IMDS-011, IMDS-012), in
// the node testdata and in the examples, has a fix that names the setting
// it points at, or its launch template's when the setting takes its
// options from one.
func TestNodeFixesCoverFindings(t *testing.T) {
	nodeRules := map[string]bool{"IMDS-008": true, "IMDS-010": true, "IMDS-011": true, "IMDS-012": true}
	for _, path := range []string{"testdata/node/input", "../../examples"} {
		res, err := scan.Run(context.Background(), scan.Options{Paths: []string{path}})
		if err != nil {
			t.Fatal(err)
		}
		arts := generate.NodeFixes(res.Inventory)
		found := 0
		for _, f := range res.Findings {
			if !nodeRules[f.RuleID] {
				continue
			}
			found++
			named := f.Object.Kind + " " + f.Object.Name + " ("
			if !slices.ContainsFunc(arts, func(a generate.Artifact) bool {
				return strings.HasPrefix(a.Why, "Fixes "+named) || strings.Contains(a.Why, "also stands for "+named)
			}) {
				t.Errorf("%s: %s %s at %s has no fix", path, f.RuleID, f.Object, f.Source)
			}
		}
		if found == 0 {
			t.Errorf("%s: no node findings", path)
		}
	}
}

// TestNodeFixesBlockExamples is the proof on the examples as a whole: the
// settings of every node fix, read back by the scanner's loaders, take the
// place of the settings they fix, and the scan is run again. Every
// workload outside the host network is then Blocked at every AWS metadata
// target (the examples' Nodes are EKS nodes), by the node layer where the
// network leaves it open; hostNetwork pods stay Reachable; and no node
// rule fires.
func TestNodeFixesBlockExamples(t *testing.T) {
	before := nodeInventory(t, "../../examples")
	inv := nodeInventory(t, "../../examples")
	for _, a := range generate.NodeFixes(before) {
		if filepath.Ext(a.File) == ".sh" {
			continue
		}
		file := filepath.Join(t.TempDir(), filepath.Base(a.File))
		if err := os.WriteFile(file, a.Raw, 0o644); err != nil {
			t.Fatal(err)
		}
		fixed := nodeInventory(t, file)
		for _, c := range inv.NodeConfigs {
			if !strings.HasPrefix(a.Why, "Fixes "+c.Kind+" "+c.Name+" (") {
				continue
			}
			for _, f := range fixed.NodeConfigs {
				if f.Kind == c.Kind && f.Name == c.Name {
					// Only the metadata settings change; where the setting
					// is written stays, so references still resolve.
					c.AWS, c.GKE, c.AKS = f.AWS, f.GKE, f.AKS
				}
			}
		}
	}
	res, err := scan.Run(context.Background(), scan.Options{Live: func(context.Context) (*model.Inventory, []*manifest.InputError, error) {
		return inv, nil, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, wr := range res.Analysis.Workloads {
		for ti, r := range wr.Results {
			tg := res.Analysis.Targets[ti]
			if tg.KeepOpen() {
				continue
			}
			want := reach.Blocked
			if wr.Workload.HostNetwork() {
				want = reach.Reachable
			}
			if r.Verdict != want {
				t.Errorf("%s at %s: %s, want %s (%v)", wr.Workload.Ref, tg, r.Verdict, want, r.Trace)
			}
		}
	}
	for _, f := range res.Findings {
		switch f.RuleID {
		case "IMDS-008", "IMDS-010", "IMDS-011", "IMDS-012":
			t.Errorf("still %s: %s", f.RuleID, f.Message)
		}
	}
}
