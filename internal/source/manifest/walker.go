package manifest

import (
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// maxAliases bounds the alias dereferences one document may make. Real
// manifests use a handful; a YAML alias bomb needs millions.
const maxAliases = 10000

// maxExpandedNodes bounds the nodes reached through aliases in one document.
const maxExpandedNodes = 1 << 20

// maxFileExpandedNodes bounds them for all the documents of a file, so that
// many documents each just under the limit cannot add up to a slow load.
const maxFileExpandedNodes = 1 << 23

const aliasBombMsg = "too many alias expansions (YAML alias bomb?)"

// doc is one YAML document: where its lines are in the file, and how much of
// its alias budget has been spent.
type doc struct {
	file    string
	base    int // a node's file line is base + node.Line
	last    int // the last file line of the document
	aliases int
	// strs copies out the strings objects keep (intern.go).
	strs *interner
	// scratch is shared by the documents of a file, one at a time.
	scratch *scratch
}

// source returns the file position of a node. The line is kept inside the
// document: the parser also breaks lines at U+0085, U+2028 and U+2029.
func (d *doc) source(n *yaml.Node) model.Source {
	return model.Source{File: d.file, Line: min(d.base+max(n.Line, 1), d.last)}
}

// fieldError is a problem at one node of an object.
type fieldError struct {
	line int
	msg  string
}

// walker reads typed values out of a document's node tree for one object,
// following aliases and merge keys, and collects every problem it meets.
type walker struct {
	d    *doc
	errs []fieldError
}

// failf records a problem at node n, whose position in the object is path.
func (w *walker) failf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	w.errs = append(w.errs, fieldError{line: w.d.source(n).Line, msg: msg})
}

// resolve follows aliases to the node they stand for. It returns nil when
// the document's alias budget is spent.
func (w *walker) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		w.d.aliases++
		if w.d.aliases > maxAliases {
			if w.d.aliases == maxAliases+1 {
				w.failf(n, "", aliasBombMsg)
			}
			return nil
		}
		n = n.Alias
	}
	return n
}

// isNull reports whether a resolved node is absent or null.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// typeName names what a node holds, for "expected X, got Y" messages.
func typeName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		if _, ok := yaml11Bool(n); ok {
			return "a boolean"
		}
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a float"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a value tagged " + n.ShortTag()
	}
	return "an unknown node"
}

// yaml11Bool reads the plain scalars that YAML 1.1, and so the Kubernetes
// YAML decoder, takes for booleans although YAML 1.2 takes them for strings.
func yaml11Bool(n *yaml.Node) (value, ok bool) {
	if n.Kind != yaml.ScalarNode || n.Style != 0 {
		return false, false
	}
	switch n.Value {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// join extends a field path with a key.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index extends a field path with a sequence index.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
