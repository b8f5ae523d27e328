package generate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Originals finds a NetworkPolicy as it was written, so that a patch can
// keep every field the model does not hold.
type Originals interface {
	Original(np *model.NetworkPolicy) (*unstructured.Unstructured, error)
}

// FileOriginals reads policies back from the files a scan read. Each file
// is read once; a policy is decoded from the document its source line falls
// in, and only a file whose documents cannot be told apart that way (JSON, a
// List) is decoded whole, keeping only its NetworkPolicies. Stdin holds what
// was read from "-".
type FileOriginals struct {
	Stdin []byte
	files map[string]*originalFile
}

type originalFile struct {
	data []byte
	// starts are the byte offsets of the documents, lines their first lines.
	starts, lines []int
	// policies are the file's NetworkPolicies, decoded whole on demand.
	policies []*unstructured.Unstructured
	decoded  bool
}

// Original returns the policy from its source file.
func (f *FileOriginals) Original(np *model.NetworkPolicy) (*unstructured.Unstructured, error) {
	file := np.Source.File
	if f.files == nil {
		f.files = map[string]*originalFile{}
	}
	of, ok := f.files[file]
	if !ok {
		var data []byte
		var err error
		if file == "-" || file == "<stdin>" {
			if f.Stdin == nil {
				return nil, errors.New("the policy was read from stdin, which is gone")
			}
			data = f.Stdin
		} else if data, err = os.ReadFile(file); err != nil {
			return nil, err
		}
		of = &originalFile{data: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))}
		of.split()
		f.files[file] = of
	}
	// The document holding the policy's first line, if it is the policy.
	if i := of.document(np.Source.Line); i >= 0 {
		objs, err := decodeAll(of.doc(i))
		if err == nil && len(objs) == 1 {
			if u := match(objs[0], np); u != nil {
				return u, nil
			}
		}
	}
	if !of.decoded {
		objs, err := decodeAll(of.data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		for _, o := range objs {
			if o.GetKind() == "NetworkPolicy" {
				of.policies = append(of.policies, o)
			}
		}
		of.decoded = true
	}
	for _, o := range of.policies {
		if u := match(o, np); u != nil {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%s: NetworkPolicy %s/%s not found on reading the file again", np.Source, np.Ref.Namespace, np.Ref.Name)
}

// match returns a copy of o, with its namespace set, if it is the policy.
func match(o *unstructured.Unstructured, np *model.NetworkPolicy) *unstructured.Unstructured {
	if o.GetKind() != "NetworkPolicy" || !strings.HasPrefix(o.GetAPIVersion(), "networking.k8s.io/") || o.GetName() != np.Ref.Name {
		return nil
	}
	ns := o.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	if ns != np.Ref.Namespace {
		return nil
	}
	c := o.DeepCopy()
	c.SetNamespace(ns)
	return c
}

// split records where each YAML document starts: after a line that is
// "---" (optionally followed by a comment or content on the same line).
func (of *originalFile) split() {
	of.starts, of.lines = []int{0}, []int{1}
	line := 1
	for i := 0; i < len(of.data); i++ {
		if of.data[i] != '\n' {
			continue
		}
		line++
		rest := of.data[i+1:]
		if bytes.HasPrefix(rest, []byte("---")) && (len(rest) == 3 || rest[3] == '\n' || rest[3] == '\r' || rest[3] == ' ' || rest[3] == '\t') {
			of.starts = append(of.starts, i+1)
			of.lines = append(of.lines, line)
		}
	}
}

// document returns the index of the document holding line, or -1.
func (of *originalFile) document(line int) int {
	if line <= 0 {
		return -1
	}
	i := sort.SearchInts(of.lines, line+1) - 1
	if i < 0 {
		return -1
	}
	return i
}

func (of *originalFile) doc(i int) []byte {
	end := len(of.data)
	if i+1 < len(of.starts) {
		end = of.starts[i+1]
	}
	return of.data[of.starts[i]:end]
}

// decodeAll decodes every object of a YAML or JSON stream, expanding Lists.
func decodeAll(data []byte) ([]*unstructured.Unstructured, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if items, ok := m["items"].([]any); ok && strings.HasSuffix(u.GetKind(), "List") {
			for _, it := range items {
				if im, ok := it.(map[string]any); ok {
					out = append(out, &unstructured.Unstructured{Object: im})
				}
			}
			continue
		}
		out = append(out, u)
	}
}

// serverFields are the fields the API server owns, and the client-side
// apply record, which would describe the object before a change.
var serverFields = [][]string{{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "uid"},
	{"metadata", "creationTimestamp"}, {"metadata", "generation"}, {"status"},
	{"metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"}}

// StripServerFields removes from an object read from the API server what
// the server owns, leaving what a user wrote (and dropping annotations left
// empty).
func StripServerFields(u *unstructured.Unstructured) {
	for _, f := range serverFields {
		unstructured.RemoveNestedField(u.Object, f...)
	}
	if a, _, _ := unstructured.NestedMap(u.Object, "metadata", "annotations"); len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	}
}
