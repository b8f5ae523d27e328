package controller

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imdsguard/imdsguard/internal/protection"
)

// Metrics are the controller's Prometheus metrics.
type Metrics struct {
	// Namespaces counts namespaces by state: protected, unprotected,
	// opted_out, exempt.
	Namespaces *prometheus.GaugeVec
	// OptOuts counts opt-outs seen, by result: honoured or refused.
	OptOuts *prometheus.CounterVec
	// Restores counts managed policies put back, by cause: deleted or
	// edited.
	Restores *prometheus.CounterVec
	// ReopeningRules counts the egress rules that open a metadata target,
	// by namespace.
	ReopeningRules *prometheus.GaugeVec
	// AdminReopeningRules counts the Allow or Accept rules of each admin
	// policy that open a metadata target for guarded namespaces, by kind
	// and name.
	AdminReopeningRules *prometheus.GaugeVec
	// ExposedWorkloads counts the pods of guarded namespaces that can reach
	// a metadata target, by namespace and cause.
	ExposedWorkloads *prometheus.GaugeVec
	// ReconcileDuration observes each namespace reconcile.
	ReconcileDuration prometheus.Histogram
	// WebhookDecisions counts admission decisions by resource and decision
	// (allowed, denied, warned).
	WebhookDecisions *prometheus.CounterVec
}

// Metric states of a namespace.
const (
	metricProtected   = "protected"
	metricUnprotected = "unprotected"
	metricOptedOut    = "opted_out"
	metricExempt      = "exempt"
)

// NewMetrics registers the metrics with reg. Registering twice (two
// managers in one process, as in tests) returns the metrics registered
// first.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Namespaces: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "imdsguard_namespaces",
			Help: "Namespaces by protection state: protected (the managed policies are in place), unprotected (they should be but are not, e.g. in audit mode), opted_out, exempt."}, []string{"state"}),
		OptOuts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imdsguard_opt_outs_total",
			Help: "Namespace opt-outs seen, by result: honoured (label and reason) or refused (label without reason)."}, []string{"result"}),
		Restores: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imdsguard_policy_restores_total",
			Help: "Managed NetworkPolicies restored, by cause: deleted or edited."}, []string{"cause"}),
		ReopeningRules: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "imdsguard_reopening_rules",
			Help: "Egress rules of NetworkPolicies in guarded namespaces that open a metadata address."}, []string{"namespace"}),
		AdminReopeningRules: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "imdsguard_admin_reopening_rules",
			Help: "Allow or Accept rules of AdminNetworkPolicies and Admin-tier ClusterNetworkPolicies that open a metadata address for pods of guarded namespaces, by kind and name."}, []string{"kind", "name"}),
		ExposedWorkloads: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "imdsguard_exposed_workloads",
			Help: "Pods in guarded namespaces that can reach a metadata address, by cause: host_network, reopened, unprotected."}, []string{"namespace", "cause"}),
		ReconcileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "imdsguard_reconcile_duration_seconds",
			Help: "Duration of one namespace reconcile.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		WebhookDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imdsguard_webhook_decisions_total",
			Help: "Admission decisions, by resource and decision: allowed, denied, warned (audit mode)."}, []string{"resource", "decision"}),
	}
	var err error
	m.Namespaces, err = register(reg, m.Namespaces, err)
	m.OptOuts, err = register(reg, m.OptOuts, err)
	m.Restores, err = register(reg, m.Restores, err)
	m.ReopeningRules, err = register(reg, m.ReopeningRules, err)
	m.AdminReopeningRules, err = register(reg, m.AdminReopeningRules, err)
	m.ExposedWorkloads, err = register(reg, m.ExposedWorkloads, err)
	m.ReconcileDuration, err = register(reg, m.ReconcileDuration, err)
	m.WebhookDecisions, err = register(reg, m.WebhookDecisions, err)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return m, nil
}

// metricState is the state label of a namespace: guarded namespaces count
// as protected only when their managed policies are in place.
func metricState(s protection.State, inPlace bool) string {
	switch {
	case s == protection.Exempt:
		return metricExempt
	case s == protection.OptedOut:
		return metricOptedOut
	case inPlace:
		return metricProtected
	}
	return metricUnprotected
}

// register registers c, or returns the collector already registered under
// its name; once err is set it does nothing.
func register[T prometheus.Collector](reg prometheus.Registerer, c T, err error) (T, error) {
	if err != nil {
		return c, err
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
