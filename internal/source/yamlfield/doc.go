// Package yamlfield reads typed fields out of decoded YAML and JSON
// documents for the loaders of node settings (eksctl, CloudFormation, AWS
// CLI output). Every problem (a field of the wrong type, a duplicate key,
// an alias bomb) is recorded as an Error at its file:line and the read goes
// on, so one pass reports them all.
package yamlfield
