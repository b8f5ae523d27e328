package generate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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

// FileOriginals reads policies back from the files a scan read. Files are
// read once; Stdin holds what was read from "-".
type FileOriginals struct {
	Stdin []byte
	files map[string][]*unstructured.Unstructured
}

// Original returns the policy from its source file.
func (f *FileOriginals) Original(np *model.NetworkPolicy) (*unstructured.Unstructured, error) {
	file := np.Source.File
	if f.files == nil {
		f.files = map[string][]*unstructured.Unstructured{}
	}
	objs, ok := f.files[file]
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
		if objs, err = decodeAll(data); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		f.files[file] = objs
	}
	for _, o := range objs {
		if o.GetKind() != "NetworkPolicy" || !strings.HasPrefix(o.GetAPIVersion(), "networking.k8s.io/") || o.GetName() != np.Ref.Name {
			continue
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		if ns == np.Ref.Namespace {
			c := o.DeepCopy()
			c.SetNamespace(ns)
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s: NetworkPolicy %s/%s not found on reading the file again", np.Source, np.Ref.Namespace, np.Ref.Name)
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
