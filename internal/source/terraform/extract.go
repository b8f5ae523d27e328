package terraform

import "github.com/imdsguard/imdsguard/internal/model"

// extractor reads one resource type into node configs.
type extractor func(rd *reader, l *links) []*model.NodeConfig

// extractors are the resource types read, by type.
var extractors = map[string]extractor{
	"aws_instance":               awsInstance,
	"aws_launch_template":        awsLaunchTemplate,
	"aws_launch_configuration":   awsLaunchConfiguration,
	"aws_eks_node_group":         awsEKSNodeGroup,
	"aws_autoscaling_group":      awsAutoscalingGroup,
	"google_container_cluster":   gkeCluster,
	"google_container_node_pool": gkeNodePool,
	"azurerm_kubernetes_cluster": aksCluster,
}

// extractAll reads the resources of m and then of its child modules.
// A resource with count or for_each is read once and named by its address
// without an instance key: its instances share one block, and which of
// them exist is not resolved.
func (l *loader) extractAll(m *module) {
	for _, r := range m.order {
		x := extractors[r.typ]
		if x == nil {
			continue
		}
		rd := &reader{r: r}
		l.res.Configs = append(l.res.Configs, x(rd, l.links)...)
		l.res.Errors = append(l.res.Errors, rd.errs...)
	}
	for _, c := range m.callOrder {
		if c.child != nil {
			l.extractAll(c.child)
		}
	}
}

// newConfig starts the config of the resource being read.
func (rd *reader) newConfig(cloud string) *model.NodeConfig {
	return &model.NodeConfig{Cloud: cloud, Kind: rd.r.typ, Name: rd.r.address(), Source: rd.r.source()}
}

// addLabels merges labels into c.NodeLabels.
func addLabels(c *model.NodeConfig, labels map[string]string) {
	for k, v := range labels {
		if c.NodeLabels == nil {
			c.NodeLabels = model.Labels{}
		}
		c.NodeLabels[k] = v
	}
}
