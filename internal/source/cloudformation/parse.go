package cloudformation

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// Options tune Parse.
type Options struct {
	// Parameters override the templates' parameter defaults, as
	// `aws cloudformation deploy --parameter-overrides` does. Pseudo
	// parameters such as AWS::Region may be given too.
	Parameters map[string]string
}

// maxDepth bounds the nesting of values and intrinsic functions.
const maxDepth = 64

// parser reads one template. Its Reader's Resolve keeps null values:
// a null can be a value in a template.
type parser struct {
	yamlfield.Reader
	opts Options

	params     map[string]val
	conditions map[string]*yaml.Node
	condVals   map[string]val
	condBusy   map[string]bool
	mappings   *yaml.Node
	resources  map[string]*resourceDecl
	order      []string // logical IDs in template order
}

// resourceDecl is a resource as declared, before its properties are read.
type resourceDecl struct {
	id, typ string
	key     *yaml.Node
	node    *yaml.Node
	// ltName is the resolved LaunchTemplateName of a launch template, to
	// resolve references by name.
	ltName string
}

// Parse reads the node settings of a CloudFormation template. root is the
// decoded document; file and base place it in its file (a node's file line
// is base + node.Line). Problems are returned as errors and never stop the
// parse; a value that cannot be known before deploy time is Unresolved.
func Parse(file string, base int, root *yaml.Node, opts Options) ([]*model.NodeConfig, []*yamlfield.Error) {
	p := &parser{Reader: yamlfield.Reader{File: file, Base: base, TypeName: typeName}, opts: opts, params: map[string]val{}, conditions: map[string]*yaml.Node{},
		condVals: map[string]val{}, condBusy: map[string]bool{}, resources: map[string]*resourceDecl{}}
	root = p.Resolve(yamlfield.Content(root))
	if root == nil {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		p.Failf(root, "", "expected a CloudFormation template (a mapping), got %s", typeName(root))
		return nil, p.Errs
	}
	p.readParameters(p.mapField(root, "", "Parameters"))
	p.mappings = p.mapField(root, "", "Mappings")
	p.declareResources(p.mapField(root, "", "Resources"))
	p.readConditions(p.mapField(root, "", "Conditions"))
	return p.readResources(), p.Errs
}

// mapField reads a top-level section that must be a literal mapping.
func (p *parser) mapField(m *yaml.Node, path, key string) *yaml.Node {
	_, v := p.Field(m, path, key)
	v = p.Resolve(v)
	if v == nil || yamlfield.IsNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode || v.Tag != "" && v.Tag != "!!map" {
		p.Failf(v, yamlfield.Join(path, key), "expected a mapping, got %s", typeName(v))
		return nil
	}
	return v
}

// literalString reads a scalar that must be written as a plain string, such
// as a resource Type or a condition name.
func (p *parser) literalString(n *yaml.Node, path string) (string, bool) {
	n = p.Resolve(n)
	if n == nil || yamlfield.IsNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isCustomTag(n.Tag) {
		p.Failf(n, path, "expected a string, got %s", typeName(n))
		return "", false
	}
	return n.Value, true
}

// isCustomTag reports whether a tag is a local one such as !Ref.
func isCustomTag(tag string) bool {
	return len(tag) > 1 && tag[0] == '!' && tag[1] != '!'
}

// typeName names what a node holds in CloudFormation's words: a local tag
// such as !Ref by its name, lists as sequences, numbers with a fraction as
// floats.
func typeName(n *yaml.Node) string {
	switch {
	case isCustomTag(n.Tag):
		return n.Tag
	case n.Kind == yaml.SequenceNode:
		return "a sequence"
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float":
		return "a float"
	}
	return yamlfield.TypeName(n)
}
