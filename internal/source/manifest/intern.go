package manifest

import (
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// maxInterned is the longest string shared through the interner; longer
// ones are copied each time.
const maxInterned = 64

// interner shares what the objects of one file keep: names, namespaces,
// kinds and labels repeat across a file's objects, and whole label sets
// repeat across its pod templates and selectors. Every kept string goes
// through it, which also copies it out of the document text the subset
// parser slices values from, so the text can be freed.
type interner struct {
	strs   map[string]string
	labels map[string]model.Labels
	buf    []byte
	pairs  [][2]string
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, labels: map[string]model.Labels{}}
}

// intern returns a string equal to s that does not share s's memory.
func (t *interner) intern(s string) string {
	if len(s) > maxInterned || t == nil {
		return strings.Clone(s)
	}
	if v, ok := t.strs[s]; ok {
		return v
	}
	v := strings.Clone(s)
	t.strs[v] = v
	return v
}

// labelSet returns the label set of pairs (distinct keys, in any order),
// shared with every equal set read before. Label sets are never modified
// once read.
func (t *interner) labelSet(pairs [][2]string) model.Labels {
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	t.buf = t.buf[:0]
	for _, p := range pairs {
		t.buf = append(append(append(append(t.buf, p[0]...), 0), p[1]...), 0)
	}
	if s, ok := t.labels[string(t.buf)]; ok {
		return s
	}
	l := make(model.Labels, len(pairs))
	for _, p := range pairs {
		l[t.intern(p[0])] = t.intern(p[1])
	}
	t.labels[string(t.buf)] = l
	return l
}
