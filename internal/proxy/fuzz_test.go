package proxy

import (
	"net/http"
	"testing"
)

// FuzzDecide runs the canonicaliser and the decision on arbitrary requests:
// no panic, and nothing allowed that the lenient reference reads otherwise
// (checkNoBypass).
func FuzzDecide(f *testing.F) {
	seeds := []string{"/latest/meta-data/instance-id", "/latest/meta-data/instance-%69d", "/latest/meta-data/instance-id/../iam",
		"/computeMetadata/v1/instance/zone?alt=json", "/metadata/instance/compute/VMID?api-version=2021-02-01",
		"http://169.254.169.254/latest/meta-data/ami-id", "/latest/api/token", "/computeMetadata/v1/instance/?recursive=true"}
	for i, s := range seeds {
		f.Add(uint8(i), "GET", s, "169.254.169.254", "Metadata-Flavor", "Google", false)
		f.Add(uint8(i), "PUT", s, "metadata", "X-aws-ec2-metadata-token-ttl-seconds", "60", true)
		f.Add(uint8(i), "HEAD", s, "169.254.169.254:80", "Metadata", "true", false)
	}
	policies := map[[2]any]*Policy{}
	f.Fuzz(func(t *testing.T, flav uint8, method, target, host, hk, hv string, v2 bool) {
		fl := diffFlavours[int(flav)%len(diffFlavours)]
		key := [2]any{fl, v2}
		p := policies[key]
		if p == nil {
			p = mustPolicy(t, Options{Flavour: fl, RequireIMDSv2: v2})
			policies[key] = p
		}
		r := Request{Method: method, Target: target, Host: host, Header: http.Header{}}
		if hk != "" {
			r.Header[hk] = []string{hv}
		}
		if err := checkNoBypass(p, fl, v2, r); err != nil {
			t.Fatalf("%s v2=%v %s %q host %q %q: %q: %v", fl, v2, method, target, host, hk, hv, err)
		}
	})
}
