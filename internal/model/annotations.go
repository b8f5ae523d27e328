package model

import "strings"

// AnnotationPrefix marks imdsguard's own annotations.
const AnnotationPrefix = "imdsguard.io/"

// OwnAnnotations keeps only imdsguard's own annotations. Loaders check every
// annotation but keep only these: the others (often large, such as kubectl's
// last-applied-configuration) play no part in a verdict.
func OwnAnnotations(all map[string]string) map[string]string {
	var own map[string]string
	for k, v := range all {
		if strings.HasPrefix(k, AnnotationPrefix) {
			if own == nil {
				own = map[string]string{}
			}
			own[k] = v
		}
	}
	return own
}
