package proxy

import (
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Pieces the random requests are built from: real segments of every cloud,
// so that random paths often land on safe and sensitive ones.
var (
	diffPrefixes = []string{"/latest/meta-data/", "/latest/", "/2021-07-15/meta-data/", "/computeMetadata/v1/", "/computeMetadata/v1/instance/",
		"/computeMetadata/v1beta1/", "/0.1/meta-data/", "/metadata/instance/compute/", "/metadata/", "/"}
	diffSegments = []string{"instance-id", "ami-id", "placement", "region", "iam", "security-credentials", "node-role", "user-data",
		"identity-credentials", "ec2", "api", "token", "project", "project-id", "instance", "zone", "name", "service-accounts", "default",
		"identity", "attributes", "kube-env", "location", "vmId", "userData", "oauth2", "compute", "meta-data", "latest", "computeMetadata",
		"metadata", "v1", ".", "..", "", "%2e", "%2F", "%5C", "%00", "%69nstance-id", "Zone", "LOCATION", "x;y", "a%20b"}
	diffQueries = []string{"", "?", "?recursive=true", "?alt=json", "?api-version=2021-02-01", "?api-version=2021-02-01&format=text",
		"?x=1", "?recursive", "?audience=a&format=full", "?a=1&a=2", "?resource=https%3A%2F%2Fm%2F", "?alt=json&recursive=true"}
	diffWhole = append(append(append([]string{"/latest/api/token"}, refSafe[FlavourAWS]...), refSafe[FlavourGCP]...),
		"/metadata/instance/compute/location", "/metadata/instance/compute/vmId", "/latest/meta-data/iam/security-credentials/role",
		"/latest/user-data", "/computeMetadata/v1/instance/service-accounts/default/token", "/computeMetadata/v1/instance/attributes/kube-env",
		"/metadata/identity/oauth2/token", "/metadata/instance/compute/userData")
	diffHosts   = []string{"169.254.169.254", "169.254.169.254:80", "metadata.google.internal", "metadata", "[fd00:ec2::254]", "evil.example", ""}
	diffMethods = []string{"GET", "GET", "GET", "HEAD", "PUT", "POST", "get"}
	diffHeaders = [][2]string{{"Metadata-Flavor", "Google"}, {"Metadata", "true"}, {"X-aws-ec2-metadata-token", "t"},
		{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, {"X-Forwarded-For", "1.2.3.4"}, {"Metadata-Flavor", "google"},
		{"Metadata", "TRUE"}, {"metadata-flavor", "Google"}, {"Transfer-Encoding", "chunked"}, {"X-aws-ec2-metadata-token", ""}}
	diffFlavours = []Flavour{FlavourAWS, FlavourGCP, FlavourAzure, FlavourAuto}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// randomRequest builds a request from the pieces, and says whether it is
// plain: written the one way a client would, which the two implementations
// must then decide alike.
func randomRequest(r *rand.Rand) (Request, bool) {
	var b strings.Builder
	if r.IntN(2) == 0 {
		b.WriteString(pick(r, diffWhole))
		if r.IntN(3) == 0 { // one segment swapped, or cased differently
			segs := strings.Split(b.String(), "/")
			i := 1 + r.IntN(len(segs)-1)
			if r.IntN(2) == 0 {
				segs[i] = pick(r, diffSegments)
			} else {
				segs[i] = strings.ToUpper(segs[i])
			}
			b.Reset()
			b.WriteString(strings.Join(segs, "/"))
		}
	} else {
		b.WriteString(pick(r, diffPrefixes))
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(pick(r, diffSegments))
		}
	}
	if r.IntN(8) == 0 {
		b.WriteByte('/')
	}
	target := b.String()
	if r.IntN(3) == 0 {
		target += pick(r, diffQueries)
	}
	if r.IntN(10) == 0 {
		target = "http://" + pick(r, diffHosts) + target
	}
	h := http.Header{}
	for range r.IntN(4) {
		kv := pick(r, diffHeaders)
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
	req := Request{Method: pick(r, diffMethods), Target: target, Host: pick(r, diffHosts), Header: h}
	if strings.HasPrefix(target, "http://") {
		req.Host = strings.TrimPrefix(target, "http://")
		req.Host, _, _ = strings.Cut(req.Host, "/")
	}
	plain := !strings.ContainsAny(target, "%\\;") && !strings.Contains(target, "//") && !strings.HasPrefix(target, "http://") &&
		!strings.Contains(target, "/./") && !strings.Contains(target, "/../") && !strings.HasSuffix(target, "/.") &&
		!strings.HasSuffix(target, "/..") && !strings.Contains(target, "?")
	for k := range h {
		if http.CanonicalHeaderKey(k) != k {
			plain = false
		}
	}
	return req, plain
}

// TestDifferential holds the policy to the reference of reference_test.go
// over random requests: never allowing what the reference refuses, and
// deciding plain requests alike. IMDSGUARD_PROXY_DIFF_CASES sets the count.
func TestDifferential(t *testing.T) {
	n := 200000
	if s := os.Getenv("IMDSGUARD_PROXY_DIFF_CASES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	policies := map[[2]any]*Policy{}
	agreedAllow, plainCount := 0, 0
	for i := range n {
		req, plain := randomRequest(rng)
		f, v2 := pick(rng, diffFlavours), rng.IntN(2) == 0
		key := [2]any{f, v2}
		p := policies[key]
		if p == nil {
			p = mustPolicy(t, Options{Flavour: f, RequireIMDSv2: v2})
			policies[key] = p
		}
		if err := checkNoBypass(p, f, v2, req); err != nil {
			t.Fatalf("case %d, %s v2=%v %s %q host %q %v: %v", i, f, v2, req.Method, req.Target, req.Host, req.Header, err)
		}
		if !plain {
			continue
		}
		plainCount++
		got := p.Decide(req, Allowance{})
		want, _ := refDecide(f, v2, req)
		if got.Allowed != want {
			t.Fatalf("case %d, %s v2=%v %s %q host %q %v: policy allowed=%v (%s: %s), reference %v",
				i, f, v2, req.Method, req.Target, req.Host, req.Header, got.Allowed, got.Rule, got.Detail, want)
		}
		if want {
			agreedAllow++
		}
	}
	t.Logf("%d cases, %d plain, %d plain allowed by both", n, plainCount, agreedAllow)
	if agreedAllow < n/1000 {
		t.Errorf("only %d allowed cases: the generator rarely reaches safe paths, so the test shows little", agreedAllow)
	}
}
