package server

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/go-logr/logr"

	"github.com/imdsguard/imdsguard/internal/proxy"
)

// The refusal response: a 403 with these headers and a body that names the
// rule, so that a probe (and a person with curl) can tell "refused by the
// imdsguard proxy" from a refusal by the metadata service.
const (
	MarkerHeader  = "X-Imdsguard-Proxy"
	RuleHeader    = "X-Imdsguard-Rule"
	MarkerRefused = "refused"
	// MarkerUpstream marks a 502: allowed, but the service did not answer.
	MarkerUpstream = "upstream-error"
)

// RefusedBy reports whether a response is the proxy's refusal, and by which
// rule.
func RefusedBy(resp *http.Response) (proxy.Rule, bool) {
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get(MarkerHeader) != MarkerRefused {
		return "", false
	}
	return proxy.Rule(resp.Header.Get(RuleHeader)), true
}

// DefaultUpstream is the real metadata service.
const DefaultUpstream = "http://169.254.169.254"

// forwardedHeaders are the only request headers passed on: those the
// metadata services read. Nothing else the pod sends reaches them.
var forwardedHeaders = []string{"Metadata-Flavor", "Metadata", "X-Aws-Ec2-Metadata-Token", "X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "Accept", "User-Agent"}

// hopHeader reports whether a (canonical) response header belongs to the
// connection with the service and is not copied back.
func hopHeader(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// Option configures a Handler.
type Option func(*Handler)

// WithUpstream sets the metadata service to forward to (tests point it at
// a loopback fake).
func WithUpstream(u *url.URL) Option { return func(h *Handler) { h.upstream = u } }

// WithPods sets how source addresses are turned into pods.
func WithPods(p Pods) Option { return func(h *Handler) { h.pods = p } }

// WithProfiles sets the config whose profiles pods and namespaces select.
func WithProfiles(c *proxy.Config) Option { return func(h *Handler) { h.profiles = c } }

// WithLogger sets where refusal events go (default: nowhere).
func WithLogger(l logr.Logger) Option { return func(h *Handler) { h.log = l } }

// Refusal is what a refused request's observers learn: never its body or
// its headers.
type Refusal struct {
	Pod    Pod
	Rule   string
	Detail string
	Method string
	// Target is the request-target as received, cut to 256 bytes.
	Target string
}

// WithRefusals calls fn, which must not block, for every refused request
// from a known pod (to record Kubernetes Events).
func WithRefusals(fn func(Refusal)) Option { return func(h *Handler) { h.onRefusal = fn } }

// WithMetrics sets the metrics to count in (default: none).
func WithMetrics(m *Metrics) Option { return func(h *Handler) { h.metrics = m } }

// Handler decides the proxy's requests; a Server carries them.
type Handler struct {
	policy   *proxy.Policy
	upstream *url.URL
	pods     Pods
	profiles *proxy.Config
	log      logr.Logger
	metrics  *Metrics
	// upAddr is the service's HOST:PORT, upHost its Host header.
	upAddr, upHost string
	requests       *counters
	// onRefusal, if set, sees every refusal of a known pod's request.
	onRefusal func(Refusal)
	// refusalLog bounds the refusal lines per source.
	refusalLog *refusalLog
}

// New builds a Handler for a policy. All defaults are set here.
func New(p *proxy.Policy, opts ...Option) *Handler {
	u, _ := url.Parse(DefaultUpstream)
	h := &Handler{policy: p, upstream: u, pods: noPods, log: logr.Discard(), refusalLog: newRefusalLog()}
	for _, o := range opts {
		o(h)
	}
	h.upAddr, h.upHost = hostPort(h.upstream), h.upstream.Host
	if h.metrics != nil {
		h.requests = newCounters(h.metrics.Requests)
	}
	return h
}

// hostPort is the upstream's address with the port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// decide decides a request from remote, counts it, and reports a refusal
// (log, metrics, Events). remoteText gives remote as text, made only when
// a refusal is logged.
func (h *Handler) decide(r proxy.Request, remote netip.AddrPort, remoteText func() string) proxy.Decision {
	pod, known := h.pods.PodByIP(remote.Addr().Unmap())
	if !known {
		pod = Pod{}
	}
	var allowance proxy.Allowance
	note := ""
	if known && h.profiles != nil {
		allowance, note = h.profiles.Allowance(pod.Namespace, pod.Annotations, pod.NamespaceAnnotations)
	}
	d := h.policy.Decide(r, allowance)
	if h.requests != nil {
		h.requests.get(d.Cloud, d.Rule).Inc()
	}
	if !d.Allowed {
		h.refused(r, remote, remoteText, pod, d, allowance.Profile, note)
		return d
	}
	if d.Rule == proxy.RuleGranted {
		h.log.V(1).Info("metadata request allowed by profile", "pod", pod.Name, "namespace", pod.Namespace, "profile", allowance.Profile, "path", d.Target.Path)
	}
	return d
}

// maxLoggedTarget bounds what an attacker can write into the log.
const maxLoggedTarget = 256

// refused counts a refusal, logs it (within the source's limit), and tells
// onRefusal.
func (h *Handler) refused(r proxy.Request, remote netip.AddrPort, remoteText func() string, pod Pod, d proxy.Decision, profile, note string) {
	if h.metrics != nil {
		h.metrics.Refusals.WithLabelValues(string(d.Rule), pod.Namespace).Inc()
	}
	target := r.Target
	if len(target) > maxLoggedTarget {
		target = target[:maxLoggedTarget] + "..."
	}
	source := remote.Addr().Unmap().String()
	if pod.Name != "" {
		source = pod.Namespace + "/" + pod.Name
	}
	if ok, left := h.refusalLog.allow(source); ok {
		kv := []any{"event", "metadata-request-refused", "pod", pod.Name, "namespace", pod.Namespace, "path", target,
			"rule", string(d.Rule), "detail", d.Detail, "method", r.Method, "source", remoteText()}
		if d.Cloud != "" {
			kv = append(kv, "cloud", string(d.Cloud))
		}
		if profile != "" {
			kv = append(kv, "profile", profile)
		}
		if note != "" {
			kv = append(kv, "profileNote", note)
		}
		if left > 0 {
			kv = append(kv, "notLoggedBefore", left)
		}
		h.log.Info("refused metadata request", kv...)
	}
	if h.onRefusal != nil && pod.Name != "" {
		h.onRefusal(Refusal{Pod: pod, Rule: string(d.Rule), Detail: d.Detail, Method: r.Method, Target: target})
	}
}

// upstreamError logs and counts a request the service did not answer.
func (h *Handler) upstreamError(err error) {
	if h.metrics != nil {
		h.metrics.UpstreamErrors.Inc()
	}
	h.log.Error(err, "metadata service did not answer")
}
