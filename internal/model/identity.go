package model

// ServiceAccountIndex maps "namespace/name" to each ServiceAccount.
func ServiceAccountIndex(sas []*ServiceAccount) map[string]*ServiceAccount {
	out := make(map[string]*ServiceAccount, len(sas))
	for _, sa := range sas {
		out[sa.Ref.Namespace+"/"+sa.Ref.Name] = sa
	}
	return out
}

// OwnIdentity describes the cloud identity a workload's ServiceAccount
// gives it, or "" when it has none (Azure also needs the pod label).
func OwnIdentity(w *Workload, sas map[string]*ServiceAccount) string {
	for _, t := range w.Templates {
		name := t.ServiceAccount
		if name == "" {
			name = "default"
		}
		sa := sas[w.Ref.Namespace+"/"+name]
		if sa == nil {
			continue
		}
		switch {
		case sa.Annotations[IRSARoleAnnotation] != "":
			return "IRSA role " + sa.Annotations[IRSARoleAnnotation]
		case sa.Annotations[GKEServiceAccountAnnotation] != "":
			return "GKE Workload Identity " + sa.Annotations[GKEServiceAccountAnnotation]
		case sa.Annotations[AzureClientIDAnnotation] != "" && t.Labels[AzureUseLabel] == "true":
			return "Azure Workload Identity client " + sa.Annotations[AzureClientIDAnnotation]
		}
	}
	return ""
}
