package probe_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/probe/probetest"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

// run runs the agent with every check pointed at loopback: targets, then
// extra on top.
func run(t *testing.T, targets map[string]string, only ...string) *probe.Report {
	t.Helper()
	res := probetest.Resolver(t)
	o := probe.Options{Targets: targets, Only: only, DialTimeout: 300 * time.Millisecond, Timeout: 8 * time.Second,
		Dial: probetest.Dial(t, res), Resolver: res}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range probe.Checks() {
		if len(only) == 0 || slices.Contains(only, c.ID) {
			if _, ok := targets[c.ID]; !ok {
				if _, ok := targets[c.Endpoint]; !ok {
					t.Fatalf("check %s has no loopback target", c.ID)
				}
			}
		}
	}
	r := probe.Run(context.Background(), o)
	assertNoSecrets(t, r)
	return r
}

// assertNoSecrets fails when the encoded report holds anything a fake
// serves as a secret, or an IMDSv2 session token.
func assertNoSecrets(t *testing.T, r *probe.Report) {
	t.Helper()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fakeimds.SecretMarker, "AQAE", "node-role", "node-ram-role"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("report leaks %q: %s", secret, b)
		}
	}
}

func classes(r *probe.Report) map[string]probe.Class {
	out := map[string]probe.Class{}
	for _, res := range r.Results {
		out[res.Check] = res.Class
	}
	return out
}

func withTargets(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// proxied serves the imdsguard proxy, in front of a fake of cloud, on
// loopback.
func proxied(t *testing.T, cloud endpoints.Cloud, fo fakeimds.Options) string {
	t.Helper()
	up := probetest.Serve(t, fakeimds.New(cloud, fo))
	p, err := proxy.New(proxy.Options{Flavour: proxy.Flavour(cloud)})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewServer(server.New(p, server.WithUpstream(&url.URL{Scheme: "http", Host: up})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestClassifications(t *testing.T) {
	fakes := probetest.Fakes(t, fakeimds.Options{})
	v2only := probetest.Fakes(t, fakeimds.Options{RequireIMDSv2: true})
	all := map[string]probe.Class{
		"aws-imdsv1": probe.Credentials, "aws-imdsv2": probe.Credentials,
		"aws-imdsv1-ipv6": probe.Credentials, "aws-imdsv2-ipv6": probe.Credentials,
		"gcp": probe.Credentials, "gcp-dns": probe.Credentials, "gcp-ipv6": probe.Credentials,
		"azure-identity": probe.Credentials, "azure-wireserver": probe.Metadata, "alibaba": probe.Credentials,
	}
	tests := []struct {
		name    string
		targets map[string]string
		want    map[string]probe.Class
		detail  map[string]string // check → substring of its detail
	}{
		{name: "every service serves credentials, the WireServer metadata", targets: fakes, want: all,
			detail: map[string]string{"aws-imdsv2": "AccessKeyId, SecretAccessKey", "alibaba": "AccessKeyId, AccessKeySecret, SecurityToken",
				"gcp": "access_token", "azure-wireserver": "no credentials"}},
		{name: "IMDSv1 refused by the token rule, IMDSv2 serves", targets: withTargets(v2only),
			want: merge(all, "aws-imdsv1", probe.Refused, "aws-imdsv1-ipv6", probe.Refused), detail: map[string]string{"aws-imdsv1": "HTTP 401"}},
		{name: "metadata without credentials", targets: withTargets(fakes, "aws-imds-ipv4", probetest.Serve(t, http.HandlerFunc(noRole))),
			want: merge(all, "aws-imdsv1", probe.Metadata, "aws-imdsv2", probe.Metadata), detail: map[string]string{"aws-imdsv1": "HTTP 404"}},
		{name: "blocked by the imdsguard proxy", targets: withTargets(fakes,
			"aws-imds-ipv4", proxied(t, endpoints.AWS, fakeimds.Options{}), "gcp-metadata-ipv4", proxied(t, endpoints.GCP, fakeimds.Options{})),
			want:   merge(all, "aws-imdsv1", probe.ProxyBlocked, "aws-imdsv2", probe.ProxyBlocked, "gcp", probe.ProxyBlocked, "gcp-dns", probe.ProxyBlocked),
			detail: map[string]string{"aws-imdsv2": "rule aws-credentials", "gcp": "rule gcp-credentials"}},
		{name: "TCP connect times out", targets: withTargets(fakes, "alibaba-metadata", probetest.Unanswered(t)),
			want: merge(all, "alibaba", probe.Timeout), detail: map[string]string{"alibaba": "no TCP connection"}},
		{name: "connected, no answer", targets: withTargets(fakes, "azure-wireserver", probetest.Silent(t)),
			want: merge(all, "azure-wireserver", probe.Timeout), detail: map[string]string{"azure-wireserver": "no answer"}},
		{name: "connection refused", targets: withTargets(fakes, "azure-imds", probetest.Closed(t)),
			want: merge(all, "azure-identity", probe.ConnRefused)},
		{name: "DNS failure", targets: withTargets(fakes, "gcp-dns", probetest.InvalidName+":80"),
			want: merge(all, "gcp-dns", probe.DNSFailure), detail: map[string]string{"gcp-dns": "does not resolve"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.targets)
			if d := cmp.Diff(classes(r), tc.want); d != "" {
				t.Errorf("classes (-got +want):\n%s\n%+v", d, r.Results)
			}
			for _, res := range r.Results {
				if want, ok := tc.detail[res.Check]; ok && !strings.Contains(res.Detail, want) {
					t.Errorf("%s: detail %q, want it to mention %q", res.Check, res.Detail, want)
				}
			}
		})
	}
}

func merge(base map[string]probe.Class, kv ...any) map[string]probe.Class {
	out := map[string]probe.Class{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(probe.Class)
	}
	return out
}

// noRole is an AWS metadata service on an instance without a role.
func noRole(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/latest/api/token":
		_, _ = w.Write([]byte("AQAEtoken"))
	default:
		http.NotFound(w, r)
	}
}

func TestTargetsAndResults(t *testing.T) {
	fakes := probetest.Fakes(t, fakeimds.Options{})
	r := run(t, withTargets(fakes, "gcp-dns", fakes["gcp-metadata-ipv4"]), "gcp-dns", "alibaba")
	if len(r.Results) != 2 || r.Results[0].Check != "gcp-dns" || r.Results[1].Check != "alibaba" {
		t.Fatalf("only two checks, in catalogue order: %+v", r.Results)
	}
	for _, res := range r.Results {
		if res.Target == "" || res.Endpoint == "" || res.Status != http.StatusOK {
			t.Errorf("result lacks target, endpoint or status: %+v", res)
		}
	}
	if err := (probe.Options{Targets: map[string]string{"nope": "x"}, Only: []string{"also-nope"}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"also-nope"`) {
		t.Errorf("Validate: %v", err)
	}
	if got := (probe.Options{}).Target(probe.Checks()[0]); got != "169.254.169.254:80" {
		t.Errorf("default target %q", got)
	}
}

func TestEncodeFitsTerminationMessage(t *testing.T) {
	r := &probe.Report{Version: probe.ReportVersion}
	for i := 0; i < 3; i++ {
		for _, c := range probe.Checks() {
			r.Results = append(r.Results, probe.Result{Check: c.ID, Endpoint: c.Endpoint, Target: "[fd00:ec2::254]:80",
				Class: probe.Timeout, Detail: strings.Repeat("long detail ", 40)})
		}
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > probe.MaxMessage {
		t.Fatalf("%d bytes", len(b))
	}
	back, err := probe.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != len(r.Results) || back.Results[0].Class != probe.Timeout {
		t.Errorf("decoded %+v", back.Results[0])
	}
	if _, err := probe.Decode([]byte(`{"v":"other"}`)); err == nil {
		t.Error("a report of another version decoded")
	}
}
