package model

import "strings"

// AnnotationPrefix marks imdsguard's own annotations.
const AnnotationPrefix = "imdsguard.io/"

// Workload identity annotations on ServiceAccounts: the cloud identity a
// pod gets of its own, instead of the node's.
const (
	IRSARoleAnnotation          = "eks.amazonaws.com/role-arn"
	GKEServiceAccountAnnotation = "iam.gke.io/gcp-service-account"
	AzureClientIDAnnotation     = "azure.workload.identity/client-id"
	// AzureUseLabel is the pod label Azure Workload Identity also needs.
	AzureUseLabel = "azure.workload.identity/use"
)

var identityAnnotations = map[string]bool{
	IRSARoleAnnotation: true, GKEServiceAccountAnnotation: true, AzureClientIDAnnotation: true,
}

// IsOwnAnnotation reports whether OwnAnnotations keeps an annotation.
func IsOwnAnnotation(key string) bool {
	return strings.HasPrefix(key, AnnotationPrefix) || identityAnnotations[key]
}

// OwnAnnotations keeps the annotations a verdict or report can use:
// imdsguard's own and the workload identity ones. Loaders check every
// annotation but keep only these: the others (often large, such as
// kubectl's last-applied-configuration) play no part.
func OwnAnnotations(all map[string]string) map[string]string {
	var own map[string]string
	for k, v := range all {
		if IsOwnAnnotation(k) {
			if own == nil {
				own = map[string]string{}
			}
			own[k] = v
		}
	}
	return own
}
