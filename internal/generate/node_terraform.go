package generate

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// keepOthers marks where the arguments a snippet does not show stay as
// they are.
const keepOthers = "# ... keep the other arguments as they are\n"

// terraform writes the fix as Terraform resource blocks, to merge into the
// resources of the same address.
func (f *nodeFix) terraform() string {
	typ := f.cfg.Kind
	name, module := terraformAddress(typ, f.cfg.Name)
	file := hclwrite.NewEmptyFile()
	root := file.Body()
	var notes []string
	if module != "" {
		notes = append(notes, "The resource is in "+strings.TrimSuffix(module, ".")+": merge this into the module's code.")
	}
	switch {
	case f.aws && typ == "aws_eks_node_group":
		notes = append(notes, "The node group has no launch template of its own, so EKS's default one decides; this gives it one. Adding a launch template to an existing node group replaces its nodes.")
		lt := name + "_imds"
		tb := root.AppendNewBlock("resource", []string{"aws_launch_template", lt}).Body()
		tb.SetAttributeValue("name_prefix", cty.StringVal(strings.ReplaceAll(name, "_", "-")+"-imds-"))
		f.metadataOptionsBlock(tb)
		root.AppendNewline()
		gb := root.AppendNewBlock("resource", []string{typ, name}).Body()
		gb.AppendUnstructuredTokens(commentTokens(keepOthers))
		lb := gb.AppendNewBlock("launch_template", nil).Body()
		lb.SetAttributeTraversal("id", traversal("aws_launch_template", lt, "id"))
		lb.SetAttributeTraversal("version", traversal("aws_launch_template", lt, "latest_version"))
	case f.aws:
		if typ == "aws_launch_configuration" {
			notes = append(notes, "Launch configurations cannot change: Terraform replaces it, and the Auto Scaling group's new instances get the new settings.")
		}
		b := root.AppendNewBlock("resource", []string{typ, name}).Body()
		b.AppendUnstructuredTokens(commentTokens(keepOthers))
		if typ == "aws_launch_template" && len(f.stale) > 0 {
			b.SetAttributeValue("update_default_version", cty.True)
		}
		f.metadataOptionsBlock(b)
	case f.gkeMode || f.gkeLegacy:
		notes = append(notes, f.gkeNotes()...)
		f.gkeBlocks(root, typ, name)
	case f.aksIdentity:
		notes = append(notes, "Then give each workload its own identity (ServiceAccount annotation azure.workload.identity/client-id, pod label azure.workload.identity/use: \"true\") and close the metadata endpoint to pods. Without Terraform: az aks update --resource-group RESOURCE_GROUP --name "+clusterOr(f.cfg.Cluster)+" --enable-oidc-issuer --enable-workload-identity")
		b := root.AppendNewBlock("resource", []string{typ, name}).Body()
		b.AppendUnstructuredTokens(commentTokens(keepOthers))
		b.SetAttributeValue("oidc_issuer_enabled", cty.True)
		b.SetAttributeValue("workload_identity_enabled", cty.True)
	default:
		return ""
	}
	var head string
	for _, n := range notes {
		head += comment(n)
	}
	return head + string(hclwrite.Format(file.Bytes()))
}

// metadataOptionsBlock appends metadata_options requiring IMDSv2 with hop
// limit 1, keeping the options the source sets.
func (f *nodeFix) metadataOptionsBlock(b *hclwrite.Body) {
	keep := keptSettings(f.cfg.AWS)
	mo := b.AppendNewBlock("metadata_options", nil).Body()
	if keep.endpoint != "" {
		mo.SetAttributeValue("http_endpoint", cty.StringVal(keep.endpoint))
	}
	mo.SetAttributeValue("http_tokens", cty.StringVal("required"))
	mo.SetAttributeValue("http_put_response_hop_limit", cty.NumberIntVal(1))
	if keep.ipv6 != "" {
		mo.SetAttributeValue("http_protocol_ipv6", cty.StringVal(keep.ipv6))
	}
	if keep.tags != "" {
		mo.SetAttributeValue("instance_metadata_tags", cty.StringVal(keep.tags))
	}
}

func (f *nodeFix) gkeNotes() []string {
	var notes []string
	if f.gkeMode {
		notes = append(notes, "GKE_METADATA runs the GKE metadata server, which serves each pod its own Kubernetes service account's identity (Workload Identity) instead of the node's.")
	}
	if f.gkePool {
		notes = append(notes, "It needs Workload Identity on the cluster: set workload_identity_config on google_container_cluster (PROJECT_ID is yours).")
	}
	if f.gkeLegacy {
		notes = append(notes, "Node metadata cannot change in place: GKE recreates the pool's nodes. metadata replaces the whole map: keep its other entries.")
	}
	return notes
}

// gkeBlocks appends the node pool (or cluster default pool) fix.
func (f *nodeFix) gkeBlocks(root *hclwrite.Body, typ, name string) {
	cluster, pool, inline := inlinePool(name)
	var nodeConfigParent *hclwrite.Body
	switch {
	case inline:
		cb := root.AppendNewBlock("resource", []string{"google_container_cluster", cluster}).Body()
		cb.AppendUnstructuredTokens(commentTokens(keepOthers))
		if f.gkePool {
			workloadPool(cb)
		}
		pb := cb.AppendNewBlock("node_pool", nil).Body()
		pb.SetAttributeValue("name", cty.StringVal(pool))
		nodeConfigParent = pb
	case typ == "google_container_cluster":
		cb := root.AppendNewBlock("resource", []string{typ, name}).Body()
		cb.AppendUnstructuredTokens(commentTokens(keepOthers))
		if f.gkePool {
			workloadPool(cb)
		}
		nodeConfigParent = cb
	default:
		if f.gkePool {
			cb := root.AppendNewBlock("resource", []string{"google_container_cluster", "CLUSTER"}).Body()
			cb.AppendUnstructuredTokens(commentTokens("# the cluster of " + name + "\n"))
			workloadPool(cb)
			root.AppendNewline()
		}
		pb := root.AppendNewBlock("resource", []string{typ, name}).Body()
		pb.AppendUnstructuredTokens(commentTokens(keepOthers))
		nodeConfigParent = pb
	}
	nc := nodeConfigParent.AppendNewBlock("node_config", nil).Body()
	nc.AppendUnstructuredTokens(commentTokens(keepOthers))
	if f.gkeLegacy {
		nc.SetAttributeValue("metadata", cty.ObjectVal(map[string]cty.Value{"disable-legacy-endpoints": cty.StringVal("true")}))
	}
	if f.gkeMode {
		nc.AppendNewBlock("workload_metadata_config", nil).Body().SetAttributeValue("mode", cty.StringVal("GKE_METADATA"))
	}
}

func workloadPool(b *hclwrite.Body) {
	b.AppendNewBlock("workload_identity_config", nil).Body().SetAttributeValue("workload_pool", cty.StringVal("PROJECT_ID.svc.id.goog"))
}

// terraformAddress splits a config's address into the resource name to
// write (for an inline GKE node pool, the cluster's address and the pool)
// and the module prefix ("module.a.module.b.") it lives in.
func terraformAddress(kind, address string) (name, module string) {
	rest := address
	for strings.HasPrefix(rest, "module.") {
		i := strings.Index(rest[len("module."):], ".")
		if i < 0 {
			break
		}
		cut := len("module.") + i + 1
		module, rest = module+rest[:cut], rest[cut:]
	}
	return strings.TrimPrefix(rest, kind+"."), module
}

// inlinePool splits `google_container_cluster.c.node_pool["p"]` into the
// cluster's name and the pool's; false for anything else.
func inlinePool(name string) (cluster, pool string, ok bool) {
	rest, found := strings.CutPrefix(name, "google_container_cluster.")
	if !found {
		return "", "", false
	}
	cluster, idx, found := strings.Cut(rest, ".node_pool[")
	if !found {
		return "", "", false
	}
	pool = strings.Trim(strings.TrimSuffix(idx, "]"), `"`)
	return cluster, pool, true
}

func clusterOr(name string) string {
	if name == "" {
		return "CLUSTER"
	}
	return name
}

func traversal(parts ...string) hcl.Traversal {
	t := hcl.Traversal{hcl.TraverseRoot{Name: parts[0]}}
	for _, p := range parts[1:] {
		t = append(t, hcl.TraverseAttr{Name: p})
	}
	return t
}

func commentTokens(text string) hclwrite.Tokens {
	return hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(text)}}
}
