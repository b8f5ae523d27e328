package controller

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	ctl "github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

// webhookFlags configure the admission webhook.
type webhookFlags struct {
	port       int
	host       string
	certDir    string
	secret     string
	config     string
	service    string
	ips        []net.IP
	validity   time.Duration
	caValidity time.Duration
}

func (w *webhookFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.IntVar(&w.port, "webhook-port", 0, "serve the validating admission webhook on this port (0: no webhook)")
	fs.StringVar(&w.host, "webhook-host", "", "address the webhook listens on (default: every address)")
	fs.StringVar(&w.certDir, "webhook-cert-dir", "", "serve tls.crt and tls.key from this directory (kept by cert-manager) instead of a self-generated CA")
	fs.StringVar(&w.secret, "webhook-secret", "imdsguard-webhook-cert", "the Secret, in --namespace, that holds the self-generated CA and serving certificate")
	fs.StringVar(&w.config, "webhook-config", "imdsguard", "the ValidatingWebhookConfiguration to inject the CA bundle into (empty: none)")
	fs.StringVar(&w.service, "webhook-service", "imdsguard-webhook", "the Service in front of the webhook; its DNS names go into the serving certificate")
	fs.IPSliceVar(&w.ips, "webhook-cert-ip", nil, "IP addresses to add to the serving certificate (repeatable)")
	fs.DurationVar(&w.validity, "webhook-cert-validity", webhook.DefaultValidity, "lifetime of the serving certificate; renewed with a third left")
	fs.DurationVar(&w.caValidity, "webhook-ca-validity", webhook.DefaultCAValidity, "lifetime of the CA; renewed with a third left, the old one kept in the bundle until it expires")
}

// options returns the webhook's options, nil when it is off.
func (w *webhookFlags) options(namespace string) (*ctl.WebhookOptions, error) {
	if w.port == 0 {
		return nil, nil
	}
	if w.port < 1 || w.port > 65535 {
		return nil, fmt.Errorf("--webhook-port %d is out of range 1-65535", w.port)
	}
	o := &ctl.WebhookOptions{Host: w.host, Port: w.port, CertDir: w.certDir}
	if w.certDir != "" {
		return o, nil
	}
	if namespace == "" {
		return nil, errors.New("the self-generated webhook certificate needs --namespace (or $POD_NAMESPACE) for its Secret; or give --webhook-cert-dir")
	}
	svc := w.service + "." + namespace + ".svc"
	o.Certs = webhook.CertOptions{
		Namespace: namespace, SecretName: w.secret, WebhookConfig: w.config,
		DNSNames: []string{svc, svc + ".cluster.local"}, IPs: w.ips,
		Validity: w.validity, CAValidity: w.caValidity,
	}
	return o, nil
}
