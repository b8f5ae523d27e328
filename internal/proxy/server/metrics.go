package server

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus metrics.
type Metrics struct {
	// Requests counts every request by cloud and the rule that decided it.
	Requests *prometheus.CounterVec
	// Refusals counts refused requests by rule and namespace: the detection
	// signal.
	Refusals *prometheus.CounterVec
	// UpstreamErrors counts allowed requests the metadata service did not
	// answer.
	UpstreamErrors prometheus.Counter
}

// NewMetrics registers the metrics with reg; metrics already registered
// there are reused.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imdsguard_proxy_requests_total",
			Help: "Metadata requests seen by the proxy, by cloud and deciding rule (allow-* rules allow, the rest refuse)."}, []string{"cloud", "rule"}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "imdsguard_proxy_refusals_total",
			Help: "Metadata requests refused by the proxy, by rule and the namespace of the pod that sent them (\"\" when unknown)."}, []string{"rule", "namespace"}),
		UpstreamErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "imdsguard_proxy_upstream_errors_total",
			Help: "Allowed metadata requests that the metadata service did not answer."}),
	}
	var err error
	if m.Requests, err = register(reg, m.Requests); err != nil {
		return nil, err
	}
	if m.Refusals, err = register(reg, m.Refusals); err != nil {
		return nil, err
	}
	if m.UpstreamErrors, err = register(reg, m.UpstreamErrors); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered in
// its place.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return c, err
		}
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
		return c, err
	}
	return c, nil
}
