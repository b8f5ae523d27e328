package model

// ValueState says whether a setting was written, left out, or written in a
// way that could not be resolved (an unknown variable, a runtime reference).
type ValueState int

// Value states. Unresolved is never read as safe.
const (
	Unset ValueState = iota
	Set
	Unresolved
)

func (s ValueState) String() string {
	return [...]string{"unset", "set", "unresolved"}[s]
}

// Value is one node setting as written in its source: the raw value (a
// string, "true"/"false", or a number in decimal), where it was written,
// and, when it could not be resolved, why.
type Value struct {
	State  ValueState
	Raw    string
	Source Source
	// Why explains an Unresolved value, e.g. `var.hop_limit has no default and no tfvars value`.
	Why string
}

// NodeConfig is what one node group, launch template or instance says about
// its metadata service, read from infrastructure code (Terraform,
// CloudFormation, eksctl) or exported cloud state (AWS CLI JSON).
type NodeConfig struct {
	// Cloud is "aws", "gcp" or "azure".
	Cloud string
	// Kind is the source's own type name: "aws_launch_template",
	// "AWS::EC2::LaunchTemplate", "eksctl managedNodeGroup",
	// "ec2 describe-instances", "google_container_node_pool", ...
	Kind string
	// Name identifies it within its source: a Terraform address
	// (aws_launch_template.workers), a CloudFormation logical ID, an eksctl
	// node group name, an instance or launch template ID.
	Name   string
	Source Source
	// NodeLabels are labels the group's nodes carry, when the source says
	// (eksctl labels, GKE node pool name), to map workloads to node groups.
	NodeLabels Labels
	// Cluster names the Kubernetes cluster, when the source says.
	Cluster string
	AWS     *AWSMetadataOptions
	GKE     *GKEMetadata
	AKS     *AKSIdentity
	// RefersTo names another NodeConfig this one takes its settings from
	// when it has none of its own (a node group's launch template), as that
	// config's Kind and Name.
	RefersTo *NodeConfigRef
}

// NodeConfigRef points at another NodeConfig.
type NodeConfigRef struct {
	Kind, Name string
	// Version is a launch template version when the source pins one.
	Version string
	Source  Source
}

// AWSMetadataOptions are EC2 instance metadata options (MetadataOptions,
// metadata_options) as written.
type AWSMetadataOptions struct {
	HTTPEndpoint     Value // "enabled" | "disabled"
	HTTPTokens       Value // "optional" | "required"
	HopLimit         Value // 1-64
	HTTPProtocolIPv6 Value // "enabled" | "disabled"
	InstanceTags     Value // "enabled" | "disabled"
	// State is MetadataOptions.State from AWS CLI exports ("pending" or
	// "applied"); Unset elsewhere.
	State Value
	// EksctlDisableIMDSv1 and EksctlDisablePodIMDS are eksctl's own switches
	// (disableIMDSv1, disablePodIMDS), kept as written.
	EksctlDisableIMDSv1  Value
	EksctlDisablePodIMDS Value
}

// GKEMetadata are the GKE settings that decide what pods get from the
// metadata server.
type GKEMetadata struct {
	// WorkloadMetadataMode is workload_metadata_config.mode
	// (GKE_METADATA, GCE_METADATA, MODE_UNSPECIFIED) or the legacy
	// node_metadata (GKE_METADATA_SERVER, SECURE, EXPOSE, UNSPECIFIED).
	WorkloadMetadataMode Value
	// DisableLegacyEndpoints is node_config.metadata["disable-legacy-endpoints"].
	DisableLegacyEndpoints Value
	// WorkloadPool is the cluster's workload_identity_config.workload_pool.
	WorkloadPool Value
}

// AKSIdentity are the AKS settings that Azure Workload Identity needs.
type AKSIdentity struct {
	OIDCIssuerEnabled       Value
	WorkloadIdentityEnabled Value
}
