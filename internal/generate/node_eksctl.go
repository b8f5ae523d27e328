package generate

// eksctl writes the fix as an eksctl ClusterConfig holding the node group
// with both IMDS switches on, to merge into the cluster's config.
func (f *nodeFix) eksctl() string {
	list := "nodeGroups"
	if f.cfg.Kind == "eksctl managedNodeGroup" {
		list = "managedNodeGroups"
	}
	doc := ymap(
		"apiVersion", ystr("eksctl.io/v1alpha5"),
		"kind", ystr("ClusterConfig"),
		"metadata", ymap("name", ystr(clusterOr(f.cfg.Cluster))),
		list, yseq(ymap("name", ystr(f.cfg.Name), "disableIMDSv1", ybool(true), "disablePodIMDS", ybool(true))))
	note := "disableIMDSv1 requires IMDSv2; disablePodIMDS sets the hop limit to 1, so pods outside the host network " +
		"get nothing from IMDS (workloads that need AWS access then need IRSA or EKS Pod Identity). Keep the node " +
		"group's other fields. eksctl writes these into the launch template it makes when it creates a node group: " +
		"for an existing group, create a new one with them and delete the old one."
	return comment(note) + encodeYAML(doc)
}
