package kube

import "strings"

// annotationPrefix marks imdsguard's own annotations.
const annotationPrefix = "imdsguard.io/"

// ownAnnotations keeps only imdsguard's own annotations, as the manifest
// loader does: the others (often large, such as kubectl's
// last-applied-configuration) play no part.
func ownAnnotations(all map[string]string) map[string]string {
	var own map[string]string
	for k, v := range all {
		if strings.HasPrefix(k, annotationPrefix) {
			if own == nil {
				own = map[string]string{}
			}
			own[k] = v
		}
	}
	return own
}
