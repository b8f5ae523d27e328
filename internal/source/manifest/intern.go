package manifest

import "strings"

// maxInterned is the longest string shared through the interner; longer
// ones are copied each time.
const maxInterned = 64

// interner shares the strings that the objects of one file keep: names,
// namespaces, kinds and labels repeat across a file's objects. Every kept
// string goes through it, which also copies it out of the document text
// the subset parser slices values from, so the text can be freed.
type interner map[string]string

// intern returns a string equal to s that does not share s's memory.
func (t interner) intern(s string) string {
	if len(s) > maxInterned || t == nil {
		return strings.Clone(s)
	}
	if v, ok := t[s]; ok {
		return v
	}
	v := strings.Clone(s)
	t[v] = v
	return v
}
