// Package cloudformation reads the instance metadata settings of EC2 launch
// templates, instances, launch configurations and EKS node groups from
// CloudFormation templates (YAML, with short-form tags, or JSON). It
// resolves parameters, conditions and the common intrinsic functions, and
// reports a value it cannot resolve as Unresolved, never as safe.
package cloudformation
