package manifest

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/awsjson"
	"github.com/imdsguard/imdsguard/internal/source/cloudformation"
	"github.com/imdsguard/imdsguard/internal/source/eksctl"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// readNodeConfigs reads a document that is not a Kubernetes object but
// infrastructure code or a cloud export holding node settings: an eksctl
// ClusterConfig, a CloudFormation template or AWS CLI output. It reports
// whether the document was one.
//
// The loaders' errors are recorded but mark no namespace incomplete: node
// settings can only close a path, never open one, so a broken template
// must not turn Blocked verdicts into Unknown. They are node settings
// gaps instead: the node layer then closes nothing, as a setting not read
// may have served credentials.
func (c *collected) readNodeConfigs(d *doc, root *yaml.Node) bool {
	var ncs []*model.NodeConfig
	var errs []*yamlfield.Error
	switch {
	case eksctl.Detect(root):
		ncs, errs = eksctl.Parse(d.file, d.base, root)
	case cloudformation.Detect(root):
		ncs, errs = cloudformation.Parse(d.file, d.base, root, cloudformation.Options{})
	case awsjson.Detect(root):
		ncs, errs = awsjson.Parse(d.file, d.base, root)
	default:
		return false
	}
	c.nodeConfigs = append(c.nodeConfigs, ncs...)
	for _, e := range errs {
		// The conversion compiles only while yamlfield.Error has
		// InputError's fields.
		c.fail((*InputError)(e), "", false)
		c.nodeConfigGaps = append(c.nodeConfigGaps, (*InputError)(e).Error())
	}
	return true
}
