package yamlfield

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// IsNull reports whether a resolved node is null or empty.
func IsNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// TypeName names what a node holds, as type errors say it: "a mapping",
// "a list", "a string", "an integer", "a number", "a boolean", "null".
func TypeName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a value tagged " + n.ShortTag()
	}
	return "an unknown node"
}

// Join extends a field path with a key: "a.b".
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index extends a field path with a sequence index: "a[0]".
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Content returns the root of a document node's content (nil for an empty
// document); any other node is returned as is.
func Content(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}
