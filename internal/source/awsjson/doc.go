// Package awsjson reads the instance metadata settings of EC2 instances and
// launch templates from AWS CLI output: `aws ec2 describe-instances`,
// `describe-launch-template-versions` and `get-launch-template-data`, as
// JSON (or the CLI's YAML output). Settings are kept as AWS reports them,
// including whether a change is still pending.
package awsjson
