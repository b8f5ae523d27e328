// Package webhook is the controller's validating admission webhook: it
// rejects Pods and pod templates on the host network, and NetworkPolicies
// that re-open a metadata endpoint, in guarded namespaces; it also keeps
// the webhook's serving certificate (a self-generated CA, rotated) and
// injects the CA into the ValidatingWebhookConfiguration.
package webhook
