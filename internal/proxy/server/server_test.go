package server

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// rig is a fake metadata service and the proxy in front of it, both on
// loopback.
type rig struct {
	fake    *fakeimds.Server
	proxy   string // host:port of the proxy
	log     *testenv.Buffer
	metrics *Metrics
}

func startRig(t *testing.T, cloud endpoints.Cloud, fo fakeimds.Options, po proxy.Options, cfg *proxy.Config) *rig {
	t.Helper()
	fake := fakeimds.New(cloud, fo)
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	p, err := proxy.New(po)
	if err != nil {
		t.Fatal(err)
	}
	buf := &testenv.Buffer{}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	pods := PodsFunc(func(ip netip.Addr) (Pod, bool) {
		if ip == netip.MustParseAddr("127.0.0.1") {
			return Pod{Namespace: "team-a", Name: "web-1", Annotations: map[string]string{proxy.DefaultProfileAnnotation: "creds"}}, true
		}
		return Pod{}, false
	})
	opts := []Option{WithUpstream(u), WithPods(pods), WithMetrics(m), WithLogger(logr.FromSlogHandler(slog.NewJSONHandler(buf, nil)))}
	if cfg != nil {
		opts = append(opts, WithProfiles(cfg))
	}
	return &rig{fake: fake, proxy: serve(t, New(p, opts...)), log: buf, metrics: m}
}

// serve runs h on a Server on loopback until the test ends, and returns
// its address.
func serve(t testing.TB, h *Handler) string {
	t.Helper()
	srv := NewServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// raw sends one request exactly as written (the Go client would clean it
// up) and returns the response and its body.
func (r *rig) raw(t *testing.T, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.proxy, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), fakeimds.SecretMarker) && !strings.Contains(target, "security-credentials") {
		t.Errorf("%s %s: a secret reached the client: %q", method, target, body)
	}
	return resp, string(body)
}

type want struct {
	status int
	body   string     // a substring, for 200s
	rule   proxy.Rule // for refusals by the proxy
}

func (r *rig) check(t *testing.T, method, target string, w want, headers ...string) {
	t.Helper()
	before := r.fake.Requests()
	resp, body := r.raw(t, method, target, headers...)
	if resp.StatusCode != w.status {
		t.Fatalf("%s %s: status %d (%s), want %d", method, target, resp.StatusCode, strings.TrimSpace(body), w.status)
	}
	rule, refused := RefusedBy(resp)
	if w.rule != "" {
		if !refused || rule != w.rule {
			t.Fatalf("%s %s: refused=%v by %q, want the proxy's refusal by %s", method, target, refused, rule, w.rule)
		}
		if n := r.fake.Requests(); n != before {
			t.Fatalf("%s %s: refused, yet the metadata service saw %d requests", method, target, n-before)
		}
		return
	}
	if refused {
		t.Fatalf("%s %s: refused by the proxy (%s), want the service's answer", method, target, rule)
	}
	if !strings.Contains(body, w.body) {
		t.Fatalf("%s %s: body %q, want %q", method, target, body, w.body)
	}
}

func TestAWSThroughProxy(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := startRig(t, endpoints.AWS, fakeimds.Options{RequireIMDSv2: true, Now: clock}, proxy.Options{Flavour: proxy.FlavourAWS, RequireIMDSv2: true}, nil)

	_, tok := r.raw(t, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "60")
	if !strings.HasPrefix(tok, "AQAE") {
		t.Fatalf("token PUT through the proxy gave %q", tok)
	}
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 200, body: fakeimds.InstanceID}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/meta-data/placement/region", want{status: 200, body: fakeimds.Region}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "HEAD", "/latest/meta-data/ami-id", want{status: 200}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 403, rule: proxy.RuleAWSIMDSv1})
	r.check(t, "GET", "/latest/meta-data/iam/security-credentials/node-role", want{status: 403, rule: proxy.RuleAWSCredentials}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/user-data", want{status: 403, rule: proxy.RuleAWSUserData}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/meta-data/instance-id/..%2F..%2Fuser-data", want{status: 403, rule: proxy.RuleEncodedSeparator}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "http://169.254.169.254/latest/user-data", want{status: 403, rule: proxy.RuleAWSUserData}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "http://"+r.proxy+"/latest/meta-data/instance-id", want{status: 403, rule: proxy.RuleHost}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 403, rule: proxy.RuleForwarded}, "X-aws-ec2-metadata-token", tok, "X-Forwarded-For", "10.1.1.1")
	r.check(t, "POST", "/latest/meta-data/instance-id", want{status: 403, rule: proxy.RuleMethod}, "X-aws-ec2-metadata-token", tok)
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 403, rule: proxy.RuleBody}, "X-aws-ec2-metadata-token", tok, "Transfer-Encoding", "chunked")

	// The token's TTL is the service's to enforce; its 401 passes through.
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 401}, "X-aws-ec2-metadata-token", tok)

	// Detection: each refusal is a log event and a metric.
	log := r.log.String()
	for _, s := range []string{`"event":"metadata-request-refused"`, `"pod":"web-1"`, `"namespace":"team-a"`, `"path":"/latest/user-data"`, `"rule":"aws-user-data"`} {
		if !strings.Contains(log, s) {
			t.Errorf("refusal log lacks %s:\n%s", s, log)
		}
	}
	if strings.Contains(log, fakeimds.SecretMarker) || strings.Contains(log, fakeimds.InstanceID) {
		t.Errorf("the log holds a response body:\n%s", log)
	}
	if got := testutil.ToFloat64(r.metrics.Refusals.WithLabelValues(string(proxy.RuleAWSCredentials), "team-a")); got != 1 {
		t.Errorf("refusals{aws-credentials, team-a} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.metrics.Requests.WithLabelValues("aws", string(proxy.RuleSafe))); got != 4 { // three reads and the one with the expired token
		t.Errorf("requests{aws, allow-safe} = %v, want 4", got)
	}
}

func TestAWSIMDSv1ThroughProxy(t *testing.T) {
	r := startRig(t, endpoints.AWS, fakeimds.Options{}, proxy.Options{Flavour: proxy.FlavourAuto}, nil)
	r.check(t, "GET", "/latest/meta-data/instance-id", want{status: 200, body: fakeimds.InstanceID})
	r.check(t, "GET", "/latest/meta-data/local-ipv4", want{status: 403, rule: proxy.RuleUnknownPath})
	r.check(t, "GET", "/latest/meta-data/iam/security-credentials/", want{status: 403, rule: proxy.RuleAWSCredentials})
}

func TestProfileGrantsCredentials(t *testing.T) {
	cfg, err := proxy.ParseConfig("cfg.yaml", []byte(`apiVersion: imdsguard.io/v1alpha1
kind: ProxyConfig
cloud: aws
profiles:
- name: creds
  namespaces: [team-a]
  grants: [aws-credentials]
  reason: the test pod is a node agent
`))
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, endpoints.AWS, fakeimds.Options{}, cfg.Options, cfg)
	r.check(t, "GET", "/latest/meta-data/iam/security-credentials/node-role", want{status: 200, body: fakeimds.SecretMarker})
	r.check(t, "GET", "/latest/user-data", want{status: 403, rule: proxy.RuleAWSUserData})
}

func TestGCPThroughProxy(t *testing.T) {
	r := startRig(t, endpoints.GCP, fakeimds.Options{}, proxy.Options{Flavour: proxy.FlavourGCP}, nil)
	g := []string{"Metadata-Flavor", "Google"}
	r.check(t, "GET", "/computeMetadata/v1/instance/zone", want{status: 200, body: fakeimds.Zone}, g...)
	r.check(t, "GET", "/computeMetadata/v1/project/project-id", want{status: 200, body: fakeimds.Project}, g...)
	r.check(t, "GET", "/computeMetadata/v1/instance/name?alt=text", want{status: 200, body: fakeimds.Name}, g...)
	r.check(t, "GET", "/computeMetadata/v1/instance/zone", want{status: 403, rule: proxy.RuleGCPFlavorHeader})
	r.check(t, "GET", "/computeMetadata/v1/instance/service-accounts/default/token", want{status: 403, rule: proxy.RuleGCPCredentials}, g...)
	r.check(t, "GET", "/computeMetadata/v1/instance/attributes/kube-env", want{status: 403, rule: proxy.RuleGCPKubeEnv}, g...)
	r.check(t, "GET", "/computeMetadata/v1/instance/?recursive=true", want{status: 403, rule: proxy.RuleGCPCredentials}, g...)
	r.check(t, "GET", "/computeMetadata/v1beta1/instance/service-accounts/default/token", want{status: 403, rule: proxy.RuleGCPLegacy})
	r.check(t, "GET", "/0.1/meta-data/service-accounts/default/acquire", want{status: 403, rule: proxy.RuleGCPLegacy})
}

func TestAzureThroughProxy(t *testing.T) {
	r := startRig(t, endpoints.Azure, fakeimds.Options{}, proxy.Options{Flavour: proxy.FlavourAzure}, nil)
	m := []string{"Metadata", "true"}
	r.check(t, "GET", "/metadata/instance/compute/location?api-version=2021-02-01&format=text", want{status: 200, body: fakeimds.Location}, m...)
	r.check(t, "GET", "/metadata/instance/compute/NAME?api-version=2021-02-01&format=text", want{status: 200, body: fakeimds.Name}, m...)
	r.check(t, "GET", "/metadata/instance/compute/location?api-version=2021-02-01", want{status: 403, rule: proxy.RuleAzureHeader})
	r.check(t, "GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F", want{status: 403, rule: proxy.RuleAzureCredentials}, m...)
	r.check(t, "GET", "/metadata/instance/compute?api-version=2021-02-01", want{status: 403, rule: proxy.RuleAzureUserData}, m...)
	r.check(t, "GET", "/metadata/instance/compute/userData?api-version=2021-01-01", want{status: 403, rule: proxy.RuleAzureUserData}, m...)
}

// TestNoRedirectsFollowed: a redirect from the service goes back to the
// pod; the proxy does not fetch its target.
func TestNoRedirectsFollowed(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.RequestURI())
		mu.Unlock()
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			t.Errorf("the proxy added X-Forwarded-For %q", xff)
		}
		http.Redirect(w, r, "/latest/user-data", http.StatusFound)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	p, _ := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	front := serve(t, New(p, WithUpstream(u)))
	req, _ := http.NewRequest("GET", "http://"+front+"/latest/meta-data/instance-id", nil)
	req.Host = "169.254.169.254"
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusFound || len(seen) != 1 || seen[0] != "/latest/meta-data/instance-id" {
		t.Fatalf("status %d, upstream saw %v; want the 302 passed back and one upstream request", resp.StatusCode, seen)
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	p, _ := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	front := serve(t, New(p, WithUpstream(&url.URL{Scheme: "http", Host: addr})))
	req, _ := http.NewRequest("GET", "http://"+front+"/latest/meta-data/instance-id", nil)
	req.Host = "169.254.169.254"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(MarkerHeader) != MarkerUpstream {
		t.Fatalf("status %d, marker %q", resp.StatusCode, resp.Header.Get(MarkerHeader))
	}
}

// TestRefusalsReported: the refusal callback sees each refused request of a
// known pod (rule and target, nothing else of the request), and neither
// allowed requests nor those from addresses no pod owns.
func TestRefusalsReported(t *testing.T) {
	p, err := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	if err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(fakeimds.New(endpoints.AWS, fakeimds.Options{}))
	defer fake.Close()
	up, _ := url.Parse(fake.URL)
	// The callbacks run on the server's loops: mu guards known and got.
	var mu sync.Mutex
	known := true
	var got []Refusal
	h := New(p, WithUpstream(up), WithRefusals(func(r Refusal) { mu.Lock(); got = append(got, r); mu.Unlock() }),
		WithPods(PodsFunc(func(netip.Addr) (Pod, bool) {
			mu.Lock()
			defer mu.Unlock()
			return Pod{Namespace: "ns", Name: "p", UID: "u"}, known
		})))
	front := serve(t, h)
	do := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+front+path, nil)
		req.Host = "169.254.169.254"
		req.Header.Set("X-Secret", "never reported")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	reports := func() []Refusal {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	if do("/latest/meta-data/instance-id") != http.StatusOK || len(reports()) != 0 {
		t.Fatalf("an allowed request was reported: %+v", reports())
	}
	if do("/latest/user-data") != http.StatusForbidden || len(reports()) != 1 {
		t.Fatalf("a refused request: %d reports", len(reports()))
	}
	if r := reports()[0]; r.Pod.Name != "p" || r.Pod.UID != "u" || r.Target != "/latest/user-data" || r.Rule == "" || r.Method != http.MethodGet {
		t.Errorf("report %+v", r)
	}
	mu.Lock()
	known = false
	mu.Unlock()
	if do("/latest/user-data") != http.StatusForbidden || len(reports()) != 1 {
		t.Fatalf("a refusal for an address no pod owns was reported: %+v", reports())
	}
}
