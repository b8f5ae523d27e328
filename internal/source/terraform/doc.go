// Package terraform reads the metadata service settings of node groups,
// launch templates, instances and managed clusters from Terraform code
// into model.NodeConfig values, resolving variables, locals, local modules
// and references between resources where it can, and marking every value
// it cannot resolve as Unresolved rather than guessing. Files in native
// syntax (.tf) and JSON syntax (.tf.json) are read alike.
package terraform
