package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Keys of the certificate Secret.
const (
	KeyCert     = "tls.crt"
	KeyKey      = "tls.key"
	KeyCABundle = "ca.crt"
	KeyCAKey    = "ca.key"
)

// CertOptions configure the self-managed serving certificate.
type CertOptions struct {
	// Namespace and SecretName locate the Secret that holds the CA and the
	// serving certificate, shared by every replica.
	Namespace, SecretName string
	// WebhookConfig is the ValidatingWebhookConfiguration whose webhooks
	// get the CA bundle; none when empty.
	WebhookConfig string
	// DNSNames and IPs are the serving certificate's names: the Service's
	// DNS names in a cluster, a loopback address in tests.
	DNSNames []string
	IPs      []net.IP
	// CAValidity and Validity are the lifetimes of the CA and of the
	// serving certificate; each is renewed when a third of it is left.
	CAValidity, Validity time.Duration
	// Interval is how often the Secret and the configuration are checked.
	Interval time.Duration
}

// Defaults of CertOptions.
const (
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	DefaultValidity   = 365 * 24 * time.Hour
	DefaultInterval   = time.Minute
)

// withDefaults fills the zero durations.
func (o CertOptions) withDefaults() CertOptions {
	if o.CAValidity <= 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.Validity <= 0 {
		o.Validity = DefaultValidity
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	return o
}

// Certs keeps the webhook's serving certificate: it creates a CA and a
// serving certificate in the Secret when there are none, renews them, puts
// the CA bundle (the current CA and older ones still valid) into the
// webhook configuration, and serves the current certificate. Every replica
// runs it; they agree through the Secret's resourceVersion.
type Certs struct {
	Options CertOptions
	// Client writes the Secret and the configuration; Reader reads them
	// without a cache (the RBAC grants one Secret, not a list).
	Client client.Client
	Reader client.Reader
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	current atomic.Pointer[tls.Certificate]
}

var _ manager.LeaderElectionRunnable = (*Certs)(nil)

// errRaced means another replica changed the Secret first.
var errRaced = errors.New("the certificate Secret changed meanwhile")

// NeedLeaderElection is false: every replica serves the webhook.
func (c *Certs) NeedLeaderElection() bool { return false }

// Start keeps the certificate until ctx ends.
func (c *Certs) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("certs")
	for {
		if err := c.syncRetrying(ctx); err != nil {
			logger.Error(err, "keeping the webhook certificate", "secret", c.Options.Namespace+"/"+c.Options.SecretName)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.Options.withDefaults().Interval):
		}
	}
}

func (c *Certs) syncRetrying(ctx context.Context) error {
	var err error
	for range 3 {
		if err = c.Sync(ctx); !errors.Is(err, errRaced) {
			return err
		}
	}
	return err
}

// GetCertificate serves the current certificate to TLS handshakes.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.current.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("no webhook certificate yet")
}

// Ready is a readiness check: ready once a certificate is loaded.
func (c *Certs) Ready(*http.Request) error {
	if c.current.Load() == nil {
		return errors.New("no webhook certificate yet")
	}
	return nil
}

func (c *Certs) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Sync brings the Secret, the configuration's CA bundle and the served
// certificate up to date once.
func (c *Certs) Sync(ctx context.Context) error {
	o := c.Options.withDefaults()
	sec := &corev1.Secret{}
	err := c.Reader.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.SecretName}, sec)
	missing := apierrors.IsNotFound(err)
	if err != nil && !missing {
		return fmt.Errorf("reading Secret %s/%s: %w", o.Namespace, o.SecretName, err)
	}
	if missing {
		sec = &corev1.Secret{}
		sec.Namespace, sec.Name = o.Namespace, o.SecretName
		sec.Labels = map[string]string{"app.kubernetes.io/managed-by": "imdsguard"}
	}
	data, changed, err := c.renew(sec.Data, &o)
	if err != nil {
		return err
	}
	if changed {
		sec.Data = data
		if missing {
			err = c.Client.Create(ctx, sec)
		} else {
			err = c.Client.Update(ctx, sec)
		}
		switch {
		case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
			return errRaced
		case err != nil:
			return fmt.Errorf("writing Secret %s/%s: %w", o.Namespace, o.SecretName, err)
		}
		log.FromContext(ctx).Info("renewed the webhook certificate", "secret", o.Namespace+"/"+o.SecretName)
	}
	if err := c.inject(ctx, data[KeyCABundle]); err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	if err != nil {
		return fmt.Errorf("loading the webhook certificate: %w", err)
	}
	c.current.Store(&cert)
	return nil
}

// renew returns the Secret data with a CA and a serving certificate that
// are valid for a while yet, and whether anything changed.
func (c *Certs) renew(data map[string][]byte, o *CertOptions) (map[string][]byte, bool, error) {
	now := c.now()
	cas := parseBundle(data[KeyCABundle])
	ca, _ := parseKeyPair(data[KeyCABundle], data[KeyCAKey])
	changed := false
	var err error
	if ca == nil || !ca.cert.IsCA || dueForRenewal(ca.cert, now) {
		if ca, err = newCA(now, o.CAValidity); err != nil {
			return nil, false, err
		}
		// The old CAs stay in the bundle while they are valid, so that
		// replicas still serving a certificate they signed are trusted.
		cas = append([]*x509.Certificate{ca.cert}, cas...)
		changed = true
	}
	serving, _ := parseKeyPair(data[KeyCert], data[KeyKey])
	if changed || serving == nil || dueForRenewal(serving.cert, now) || !covers(serving.cert, ca.cert, o.DNSNames, o.IPs) {
		if serving, err = newServing(ca, o.DNSNames, o.IPs, now, o.Validity); err != nil {
			return nil, false, err
		}
		changed = true
	}
	b := bundle(cas, now)
	if !bytes.Equal(b, data[KeyCABundle]) {
		changed = true
	}
	out := map[string][]byte{KeyCert: serving.certPEM, KeyKey: serving.keyPEM, KeyCABundle: b, KeyCAKey: ca.keyPEM}
	return out, changed, nil
}

// inject puts the CA bundle into every webhook of the configuration.
func (c *Certs) inject(ctx context.Context, caBundle []byte) error {
	name := c.Options.WebhookConfig
	if name == "" {
		return nil
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, vwc); err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", name, err)
	}
	changed := false
	for i := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, caBundle) {
			vwc.Webhooks[i].ClientConfig.CABundle = caBundle
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := c.Client.Update(ctx, vwc); err != nil {
		if apierrors.IsConflict(err) {
			return errRaced
		}
		return fmt.Errorf("injecting the CA into ValidatingWebhookConfiguration %s: %w", name, err)
	}
	log.FromContext(ctx).Info("injected the CA bundle", "validatingwebhookconfiguration", name)
	return nil
}
