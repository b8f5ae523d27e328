package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

// Name is the controller's name in logs, Events and metrics.
const Name = "imdsguard"

// DefaultLeaderElectionID names the Lease the replicas compete for.
const DefaultLeaderElectionID = "imdsguard-controller"

// Options configure the manager.
type Options struct {
	// Config reaches the API server.
	Config *rest.Config
	Policy protection.Policy
	// Logger receives the structured logs; discarded when zero.
	Logger logr.Logger
	// MetricsAddr serves /metrics; "0" turns it off.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz; "" turns them off.
	ProbeAddr string
	// LeaderElection makes replicas elect one reconciling leader, through
	// the Lease LeaderElectionID in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election; zero
	// keeps controller-runtime's defaults (15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Concurrency is the number of namespaces reconciled at once.
	Concurrency int
	// Registerer receives the metrics; controller-runtime's registry, which
	// /metrics serves, when nil.
	Registerer prometheus.Registerer
	// Webhook, when set, serves the validating admission webhook.
	Webhook *WebhookOptions
	// ClusterPolicy chooses how namespaces are protected: ClusterPolicyNone
	// (per-namespace NetworkPolicies, the default), ClusterPolicyANP (one
	// AdminNetworkPolicy) or ClusterPolicyAuto (the AdminNetworkPolicy when
	// the API server serves its kind, at start).
	ClusterPolicy string
}

// Values of Options.ClusterPolicy.
const (
	ClusterPolicyNone = "none"
	ClusterPolicyANP  = "anp"
	ClusterPolicyAuto = "auto"
)

// WebhookOptions configure the admission webhook server.
type WebhookOptions struct {
	Host string
	Port int
	// CertDir, when set, serves tls.crt and tls.key from a directory kept
	// by someone else (cert-manager), reloading them when they change.
	// Otherwise Certs keeps a self-generated CA and certificate.
	CertDir string
	Certs   webhook.CertOptions
}

// Scheme holds the built-in types the controller reads and writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("controller: building scheme: %v", err)) // static types always register
	}
	return s
}

// New builds a manager running the namespace reconciler, with metrics,
// health probes and leader election as configured. Start it with
// mgr.Start.
func New(o Options) (manager.Manager, *Metrics, error) {
	if o.Registerer == nil {
		o.Registerer = crmetrics.Registry
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	policy := o.Policy.WithDefaults()
	metrics, err := NewMetrics(o.Registerer)
	if err != nil {
		return nil, nil, err
	}
	skip := true
	mo := manager.Options{
		Scheme:                  Scheme(),
		Logger:                  o.Logger,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		LeaderElection:          o.LeaderElection,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaderElectionID:        o.LeaderElectionID,
		// A leader that stops on purpose hands over at once.
		LeaderElectionReleaseOnCancel: true,
		// Names are unique per manager; tests run several in one process.
		Controller: config.Controller{SkipNameValidation: &skip},
		// Pods are cached slim: exposure reads labels, owners, hostNetwork
		// and phase only.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Transform: slimPod}}},
		Client: client.Options{Cache: &client.CacheOptions{
			// The certificate Secret is read directly, never cached: the
			// RBAC grants only that one Secret.
			DisableFor: []client.Object{&corev1.Secret{}},
		}},
	}
	var certs *webhook.Certs
	if w := o.Webhook; w != nil {
		so := crwebhook.Options{Host: w.Host, Port: w.Port, CertDir: w.CertDir}
		if w.CertDir == "" {
			certs = &webhook.Certs{Options: w.Certs}
			so.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.GetCertificate = certs.GetCertificate }}
		}
		mo.WebhookServer = crwebhook.NewServer(so)
	}
	if o.LeaseDuration > 0 {
		mo.LeaseDuration, mo.RenewDeadline, mo.RetryPeriod = &o.LeaseDuration, &o.RenewDeadline, &o.RetryPeriod
	}
	cfg := rest.CopyConfig(o.Config)
	if cfg.QPS == 0 {
		// No client-side limit: the API server's priority and fairness
		// protects it, as controller-runtime's own config loader does.
		cfg.QPS = -1
	}
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, nil, fmt.Errorf("creating manager: %w", err)
	}
	r := &NamespaceReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder(Name),
		Policy:   &policy,
		Metrics:  metrics,
	}
	if r.ClusterWide, err = clusterWide(mgr, o.ClusterPolicy); err != nil {
		return nil, nil, err
	}
	if err := r.SetupWithManager(mgr, o.Concurrency); err != nil {
		return nil, nil, err
	}
	kinds, err := servedAdminKinds(mgr)
	if err != nil {
		return nil, nil, err
	}
	if len(kinds) > 0 {
		ar := &AdminReopeningReconciler{Client: mgr.GetClient(), Recorder: r.Recorder, Policy: &policy, Metrics: metrics, Kinds: kinds}
		if err := ar.SetupWithManager(mgr); err != nil {
			return nil, nil, err
		}
	}
	if r.ClusterWide {
		cr := &ClusterReconciler{Client: mgr.GetClient(), Recorder: r.Recorder, Policy: &policy, Metrics: metrics}
		if err := cr.SetupWithManager(mgr); err != nil {
			return nil, nil, err
		}
	}
	ready := map[string]healthz.Checker{"cache": cacheSynced(mgr)}
	if o.Webhook != nil {
		if certs != nil {
			certs.Client, certs.Reader = mgr.GetClient(), mgr.GetAPIReader()
			if err := mgr.Add(certs); err != nil {
				return nil, nil, fmt.Errorf("adding the certificate keeper: %w", err)
			}
			ready["certificate"] = certs.Ready
		}
		srv := mgr.GetWebhookServer()
		srv.Register(webhook.Path, &admission.Webhook{Handler: &webhook.Validator{
			Policy:     &policy,
			Namespaces: mgr.GetClient(),
			Fallback:   mgr.GetAPIReader(),
			Count:      func(res, d string) { metrics.WebhookDecisions.WithLabelValues(res, d).Inc() },
		}})
		ready["webhook"] = srv.StartedChecker()
	}
	if o.ProbeAddr != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, nil, fmt.Errorf("adding health check: %w", err)
		}
		for name, check := range ready {
			if err := mgr.AddReadyzCheck(name, check); err != nil {
				return nil, nil, fmt.Errorf("adding readiness check: %w", err)
			}
		}
	}
	return mgr, metrics, nil
}

// SetupWithManager registers the reconciler: every Namespace event, and
// every NetworkPolicy event of its namespace, reconciles the namespace,
// because the managed policies are the complement of the others; so does a
// Pod created, deleted or relabelled, for the exposure metric.
func (r *NamespaceReconciler) SetupWithManager(mgr manager.Manager, concurrency int) error {
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.GetNamespace()}}}
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named("namespace").
		For(&corev1.Namespace{}).
		Watches(&networkingv1.NetworkPolicy{}, toNamespace).
		Watches(&corev1.Pod{}, toNamespace, builder.WithPredicates(podChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("setting up the namespace controller: %w", err)
	}
	return nil
}

// clusterWide resolves Options.ClusterPolicy.
func clusterWide(mgr manager.Manager, choice string) (bool, error) {
	switch choice {
	case "", ClusterPolicyNone:
		return false, nil
	case ClusterPolicyANP:
		return true, nil
	case ClusterPolicyAuto:
		_, err := mgr.GetRESTMapper().RESTMapping(ANPKind.GroupKind(), ANPKind.Version)
		if meta.IsNoMatchError(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("looking for the AdminNetworkPolicy API: %w", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown cluster policy %q (want none, anp or auto)", choice)
}

// cacheSynced is ready once the informers have synced.
func cacheSynced(mgr manager.Manager) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("caches not synced")
		}
		return nil
	}
}
