package terraform

import (
	"fmt"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/imdsguard/imdsguard/internal/model"
)

// nodePoolLabel is the label GKE puts on every node with its pool's name.
const nodePoolLabel = "cloud.google.com/gke-nodepool"

// gkeMetadata reads node_config of body: workload_metadata_config.mode
// (or the legacy node_metadata when mode is not written) and
// metadata["disable-legacy-endpoints"].
func (rd *reader) gkeMetadata(body *hclsyntax.Body, pool model.Value) *model.GKEMetadata {
	nc, ncUnread := rd.blockPath(body, "node_config")
	wmc, unread := rd.blockPath(nc, "workload_metadata_config")
	if ncUnread != "" {
		unread = ncUnread
	}
	mode := rd.value(wmc, unread, "mode", kString)
	if mode.State == model.Unset && wmc != nil {
		if legacy := rd.value(wmc, unread, "node_metadata", kString); legacy.State != model.Unset {
			mode = legacy
		}
	}
	return &model.GKEMetadata{
		WorkloadMetadataMode:   mode,
		DisableLegacyEndpoints: rd.mapEntry(nc, ncUnread, "metadata", "disable-legacy-endpoints"),
		WorkloadPool:           pool,
	}
}

// nodeLabels reads node_config.labels, the Kubernetes labels of the nodes.
func (rd *reader) nodeLabels(body *hclsyntax.Body) map[string]string {
	nc, _ := rd.blockPath(body, "node_config")
	return rd.stringMap(nc, "labels")
}

// gkeCluster reads a cluster: its workload pool, the node_config of its
// default pool, and each inline node_pool block as a config of its own.
func gkeCluster(rd *reader, l *links) []*model.NodeConfig {
	body := rd.r.block.Body
	c := rd.newConfig("gcp")
	if a := body.Attributes["name"]; a != nil {
		c.Cluster, _ = rd.stringOf(a)
	}
	wic, unread := rd.blockPath(body, "workload_identity_config")
	pool := rd.value(wic, unread, "workload_pool", kString)
	c.GKE = rd.gkeMetadata(body, pool)
	addLabels(c, rd.nodeLabels(body))
	out := []*model.NodeConfig{c}
	for i, b := range body.Blocks {
		if b.Type != "node_pool" {
			continue
		}
		p := &model.NodeConfig{Cloud: "gcp", Kind: "google_container_node_pool", Source: sourceOf(b.DefRange()), Cluster: c.Cluster}
		p.Name = fmt.Sprintf("%s.node_pool[%d]", rd.r.address(), i)
		if a := b.Body.Attributes["name"]; a != nil {
			if s, ok := rd.stringOf(a); ok {
				p.Name = fmt.Sprintf("%s.node_pool[%q]", rd.r.address(), s)
				addLabels(p, map[string]string{nodePoolLabel: s})
			}
		}
		at := p.Source
		rd.at = &at
		p.GKE = rd.gkeMetadata(b.Body, pool)
		rd.at = nil
		addLabels(p, rd.nodeLabels(b.Body))
		out = append(out, p)
	}
	switch {
	case rd.isTrue(body, "remove_default_node_pool"):
		// The default pool is deleted once the cluster is created, so its
		// node_config describes no nodes; the config stays for the node
		// pools that take the cluster's workload pool.
		if l.noNodes == nil {
			l.noNodes = map[*model.NodeConfig]bool{}
		}
		l.noNodes[c] = true
	case len(out) == 1:
		addLabels(c, map[string]string{nodePoolLabel: "default-pool"})
	}
	return out
}

// isTrue reports whether an argument is known to be true.
func (rd *reader) isTrue(body *hclsyntax.Body, name string) bool {
	a := body.Attributes[name]
	if a == nil {
		return false
	}
	v := rd.convert(a.Expr, rd.r.mod.eval(a.Expr), name, kBool, sourceOf(a.SrcRange))
	return v.State == model.Set && v.Raw == "true"
}

// gkeNodePool reads a separate node pool. Its workload pool is its
// cluster's, filled in once every module is read.
func gkeNodePool(rd *reader, l *links) []*model.NodeConfig {
	body := rd.r.block.Body
	c := rd.newConfig("gcp")
	name, addr := rd.clusterName(body, "cluster", "google_container_cluster")
	c.Cluster = name
	c.GKE = rd.gkeMetadata(body, model.Value{})
	if a := body.Attributes["name"]; a != nil && !rd.r.multi {
		if s, ok := rd.stringOf(a); ok {
			addLabels(c, map[string]string{nodePoolLabel: s})
		}
	}
	addLabels(c, rd.nodeLabels(body))
	link := poolLink{cfg: c, addr: addr, clusterAt: rd.r.source(), expr: "(not written)"}
	if a := body.Attributes["cluster"]; a != nil {
		link.clusterAt, link.expr = sourceOf(a.SrcRange), rd.r.mod.exprText(a.Expr)
	}
	l.pools = append(l.pools, link)
	return []*model.NodeConfig{c}
}
