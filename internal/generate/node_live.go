package generate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

// Node labels that name a node's group on each cloud.
const (
	eksNodeGroupLabel = "eks.amazonaws.com/nodegroup"
	gkeNodePoolLabel  = "cloud.google.com/gke-nodepool"
)

// liveNodeFixes writes CLI commands for the Node objects (from a live
// cluster or its manifests) that no node setting in the input describes:
// their metadata settings are unknown, so the commands set them. One
// script per node group: aws for EKS instances, gcloud for GKE node pools,
// az for an AKS cluster.
func liveNodeFixes(inv *model.Inventory) []Artifact {
	// An AKS cluster's settings describe all of its nodes, but state no
	// labels to match them by: with any AKS setting read, its own fix
	// covers them.
	aksRead := false
	for _, c := range inv.NodeConfigs {
		aksRead = aksRead || c.Cloud == string(endpoints.Azure)
	}
	groups := map[string][]*model.Node{}
	for _, n := range inv.Nodes {
		if describedBy(n, inv.NodeConfigs) {
			continue
		}
		clouds := endpoints.Detect([]*model.Node{n})
		if len(clouds) != 1 {
			continue // no cloud, or several: nothing sure to write
		}
		key := string(clouds[0]) + "\x00"
		switch clouds[0] {
		case endpoints.AWS:
			key += n.Labels[eksNodeGroupLabel]
		case endpoints.GCP:
			key += n.Labels[gkeNodePoolLabel]
		case endpoints.Azure:
			if aksRead {
				continue
			}
		default:
			continue
		}
		groups[key] = append(groups[key], n)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Artifact
	for _, k := range keys {
		cloud, group, _ := strings.Cut(k, "\x00")
		nodes := groups[k]
		var why, body, file string
		switch endpoints.Cloud(cloud) {
		case endpoints.AWS:
			why, body = awsLiveFix(group, nodes)
			file = "node/live.aws." + safeName(orDefault(group, "nodes")) + ".sh"
		case endpoints.GCP:
			why, body = gkeLiveFix(group, nodes)
			file = "node/live.gcp." + safeName(orDefault(group, "nodes")) + ".sh"
		case endpoints.Azure:
			why, body = aksLiveFix(nodes)
			file = "node/live.azure.sh"
		}
		if body == "" {
			continue
		}
		out = append(out, Artifact{Group: GroupNode, File: file, Raw: []byte(Header + comment(why) + body), Why: why})
	}
	return out
}

func describedBy(n *model.Node, cfgs []*model.NodeConfig) bool {
	for _, c := range cfgs {
		if nodesettings.Describes(c, n) {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// nodeList names nodes and where they were read, for a comment.
func nodeList(nodes []*model.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name + " (" + n.Source.String() + ")"
	}
	return strings.Join(names, ", ")
}

// awsLiveFix requires IMDSv2 with hop limit 1 on each running instance.
func awsLiveFix(group string, nodes []*model.Node) (string, string) {
	var b strings.Builder
	for _, n := range nodes {
		// providerID is aws:///ZONE/INSTANCE-ID.
		id := n.ProviderID[strings.LastIndex(n.ProviderID, "/")+1:]
		if !strings.HasPrefix(id, "i-") {
			continue
		}
		b.WriteString("aws ec2 modify-instance-metadata-options --instance-id " + shellQuote(id) +
			" --http-tokens required --http-put-response-hop-limit 1\n")
	}
	what := "EKS nodes"
	if group != "" {
		what = fmt.Sprintf("the nodes of EKS node group %s", group)
	}
	why := fmt.Sprintf("No node setting in the input describes %s: %s, so whether they serve the node's credentials "+
		"to pods is unknown. These commands require IMDSv2 with hop limit 1 on the running instances; nodes launched "+
		"later take their launch template's settings, so fix the template too (scan its Terraform, CloudFormation or "+
		"eksctl code, or an `aws ec2 describe-launch-template-versions` export, to get that fix). With hop limit 1, pods "+
		"outside the host network need IRSA or EKS Pod Identity for AWS access.", what, nodeList(nodes))
	return why, b.String()
}

// gkeLiveFix switches a node pool to the GKE metadata server.
func gkeLiveFix(pool string, nodes []*model.Node) (string, string) {
	if pool == "" {
		return "", ""
	}
	project := "PROJECT_ID"
	// providerID is gce://PROJECT/ZONE/INSTANCE.
	if parts := strings.Split(strings.TrimPrefix(nodes[0].ProviderID, "gce://"), "/"); len(parts) == 3 && parts[0] != "" {
		project = parts[0]
	}
	why := fmt.Sprintf("No node setting in the input describes GKE node pool %s: %s, so whether it serves the node's "+
		"service account to pods is unknown. This runs the GKE metadata server on the pool, which needs Workload "+
		"Identity on the cluster (the first command; CLUSTER and LOCATION are yours). If the pool is managed by "+
		"Terraform, change its code instead.", pool, nodeList(nodes))
	body := "gcloud container clusters update CLUSTER --location LOCATION --project " + shellQuote(project) +
		" --workload-pool=" + shellQuote(project+".svc.id.goog") + "\n" +
		"gcloud container node-pools update " + shellQuote(pool) + " --cluster CLUSTER --location LOCATION --project " +
		shellQuote(project) + " --workload-metadata=GKE_METADATA\n"
	return why, body
}

// aksLiveFix enables workload identity on the cluster.
func aksLiveFix(nodes []*model.Node) (string, string) {
	why := fmt.Sprintf("No setting in the input describes the AKS cluster of %s. AKS has no node setting that keeps "+
		"pods from IMDS: this enables Microsoft Entra Workload ID (RESOURCE_GROUP and CLUSTER are yours), so that "+
		"workloads can get identities of their own and the metadata endpoint can then be closed to pods.", nodeList(nodes))
	return why, "az aks update --resource-group RESOURCE_GROUP --name CLUSTER --enable-oidc-issuer --enable-workload-identity\n"
}
