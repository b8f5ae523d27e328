package model

// UnevaluatedPolicyKinds are the policy kinds the engine does not evaluate
// yet, by "group/Kind", with the flags their stubs carry. Every loader reads
// them from here. Read-only.
var UnevaluatedPolicyKinds = map[string]PolicyStub{
	"policy.networking.k8s.io/AdminNetworkPolicy":         {ClusterScoped: true},
	"policy.networking.k8s.io/BaselineAdminNetworkPolicy": {ClusterScoped: true, Baseline: true},
	"policy.networking.k8s.io/ClusterNetworkPolicy":       {ClusterScoped: true},
	"cilium.io/CiliumNetworkPolicy":                       {},
	"cilium.io/CiliumClusterwideNetworkPolicy":            {ClusterScoped: true, SelectsHostNetwork: true},
}
