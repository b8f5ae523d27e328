package proxy

import (
	"fmt"
	"net/http"
	"testing"
)

// req builds a request to the metadata service; headers are name, value
// pairs.
func req(method, target string, headers ...string) Request {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Add(headers[i], headers[i+1])
	}
	return Request{Method: method, Target: target, Host: "169.254.169.254", Header: h, ContentLength: 0}
}

func mustPolicy(t testing.TB, o Options) *Policy {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	gcpHdr   = []string{"Metadata-Flavor", "Google"}
	azureHdr = []string{"Metadata", "true"}
)

func TestDecideTable(t *testing.T) {
	tests := []struct {
		name    string
		flavour Flavour
		v2      bool
		r       Request
		a       Allowance
		want    Rule
	}{
		// AWS
		{"aws instance-id", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id"), Allowance{}, RuleSafe},
		{"aws region", FlavourAWS, false, req("GET", "/latest/meta-data/placement/region"), Allowance{}, RuleSafe},
		{"aws ami-id HEAD", FlavourAWS, false, req("HEAD", "/latest/meta-data/ami-id"), Allowance{}, RuleSafe},
		{"aws token put", FlavourAWS, true, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "21600"), Allowance{}, RuleAWSToken},
		{"aws token ttl too long", FlavourAWS, false, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "21601"), Allowance{}, RuleAWSTokenTTL},
		{"aws token ttl missing", FlavourAWS, false, req("PUT", "/latest/api/token"), Allowance{}, RuleAWSTokenTTL},
		{"aws token ttl padded", FlavourAWS, false, req("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "060"), Allowance{}, RuleAWSTokenTTL},
		{"aws put elsewhere", FlavourAWS, false, req("PUT", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token-ttl-seconds", "60"), Allowance{}, RuleMethod},
		{"aws v2 read with token", FlavourAWS, true, req("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", "tok"), Allowance{}, RuleSafe},
		{"aws v1 read refused when v2 required", FlavourAWS, true, req("GET", "/latest/meta-data/instance-id"), Allowance{}, RuleAWSIMDSv1},
		{"aws v1 read empty token", FlavourAWS, true, req("GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", ""), Allowance{}, RuleAWSIMDSv1},
		{"aws role list", FlavourAWS, false, req("GET", "/latest/meta-data/iam/security-credentials/"), Allowance{}, RuleAWSCredentials},
		{"aws role creds", FlavourAWS, false, req("GET", "/latest/meta-data/iam/security-credentials/node-role"), Allowance{}, RuleAWSCredentials},
		{"aws role creds dated", FlavourAWS, false, req("GET", "/2021-07-15/meta-data/iam/security-credentials/node-role"), Allowance{}, RuleAWSCredentials},
		{"aws identity creds", FlavourAWS, false, req("GET", "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance"), Allowance{}, RuleAWSCredentials},
		{"aws user-data", FlavourAWS, false, req("GET", "/latest/user-data"), Allowance{}, RuleAWSUserData},
		{"aws user-data 1.0", FlavourAWS, false, req("GET", "/1.0/user-data/"), Allowance{}, RuleAWSUserData},
		{"aws unknown", FlavourAWS, false, req("GET", "/latest/meta-data/local-ipv4"), Allowance{}, RuleUnknownPath},
		{"aws identity document", FlavourAWS, false, req("GET", "/latest/dynamic/instance-identity/document"), Allowance{}, RuleUnknownPath},
		{"aws listing", FlavourAWS, false, req("GET", "/latest/meta-data/"), Allowance{}, RuleUnknownPath},
		{"aws xff", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id", "X-Forwarded-For", "10.0.0.1"), Allowance{}, RuleForwarded},
		{"aws forwarded", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id", "Forwarded", "for=10.0.0.1"), Allowance{}, RuleForwarded},
		{"aws post", FlavourAWS, false, req("POST", "/latest/meta-data/instance-id"), Allowance{}, RuleMethod},
		{"aws granted creds", FlavourAWS, false, req("GET", "/latest/meta-data/iam/security-credentials/node-role"), Allowance{Grants: []Rule{RuleAWSCredentials}}, RuleGranted},
		{"aws granted creds still not user-data", FlavourAWS, false, req("GET", "/latest/user-data"), Allowance{Grants: []Rule{RuleAWSCredentials}}, RuleAWSUserData},
		{"aws granted path", FlavourAWS, false, req("GET", "/latest/meta-data/local-ipv4"), Allowance{Paths: []string{"/latest/meta-data/local-ipv4"}}, RuleGranted},
		{"aws granted prefix does not grant creds", FlavourAWS, false, req("GET", "/latest/meta-data/iam/security-credentials/r"), Allowance{Paths: []string{"/latest/meta-data/*"}}, RuleAWSCredentials},
		{"aws path on gcp-only proxy", FlavourGCP, false, req("GET", "/latest/meta-data/instance-id"), Allowance{}, RuleUnknownPath},
		{"aws creds refused on gcp proxy too", FlavourGCP, false, req("GET", "/latest/meta-data/iam/security-credentials/x"), Allowance{}, RuleAWSCredentials},

		// GCP
		{"gcp project", FlavourGCP, false, req("GET", "/computeMetadata/v1/project/project-id", gcpHdr...), Allowance{}, RuleSafe},
		{"gcp zone", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/zone", gcpHdr...), Allowance{}, RuleSafe},
		{"gcp name", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/name", gcpHdr...), Allowance{}, RuleSafe},
		{"gcp no flavor header", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/zone"), Allowance{}, RuleGCPFlavorHeader},
		{"gcp wrong flavor value", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/zone", "Metadata-Flavor", "google"), Allowance{}, RuleGCPFlavorHeader},
		{"gcp two flavor headers", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/zone", "Metadata-Flavor", "Google", "Metadata-Flavor", "Google"), Allowance{}, RuleGCPFlavorHeader},
		{"gcp token", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/service-accounts/default/token", gcpHdr...), Allowance{}, RuleGCPCredentials},
		{"gcp identity", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", gcpHdr...), Allowance{}, RuleGCPCredentials},
		{"gcp kube-env", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/attributes/kube-env", gcpHdr...), Allowance{}, RuleGCPKubeEnv},
		{"gcp legacy v1beta1", FlavourGCP, false, req("GET", "/computeMetadata/v1beta1/instance/service-accounts/default/token"), Allowance{}, RuleGCPLegacy},
		{"gcp legacy 0.1", FlavourGCP, false, req("GET", "/0.1/meta-data/service-accounts/default/acquire"), Allowance{}, RuleGCPLegacy},
		{"gcp legacy not grantable", FlavourGCP, false, req("GET", "/0.1/meta-data/project-id"), Allowance{Grants: []Rule{RuleGCPLegacy}, Paths: []string{"/0.1/*"}}, RuleGCPLegacy},
		{"gcp recursive instance", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/?recursive=true", gcpHdr...), Allowance{}, RuleGCPCredentials},
		{"gcp recursive attributes", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/attributes/?recursive=true", gcpHdr...), Allowance{}, RuleGCPKubeEnv},
		{"gcp recursive root", FlavourGCP, false, req("GET", "/computeMetadata/v1/?recursive=true&alt=json", gcpHdr...), Allowance{}, RuleGCPCredentials},
		{"gcp recursive leaf is fine", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/zone?recursive=true", gcpHdr...), Allowance{}, RuleSafe},
		{"gcp recursive project granted", FlavourGCP, false, req("GET", "/computeMetadata/v1/project/?recursive=true", gcpHdr...), Allowance{Paths: []string{"/computeMetadata/v1/project/*"}}, RuleGranted},
		{"gcp granted kube-env", FlavourGCP, false, req("GET", "/computeMetadata/v1/instance/attributes/kube-env", gcpHdr...), Allowance{Grants: []Rule{RuleGCPKubeEnv}}, RuleGranted},
		{"gcp put", FlavourGCP, false, req("PUT", "/computeMetadata/v1/instance/zone", gcpHdr...), Allowance{}, RuleMethod},
		{"gcp auto", FlavourAuto, false, req("GET", "/computeMetadata/v1/instance/zone", gcpHdr...), Allowance{}, RuleSafe},
		{"gcp host name", FlavourGCP, false, withHost(req("GET", "/computeMetadata/v1/instance/zone", gcpHdr...), "metadata.google.internal"), Allowance{}, RuleSafe},

		// Azure
		{"azure location", FlavourAzure, false, req("GET", "/metadata/instance/compute/location?api-version=2021-02-01&format=text", azureHdr...), Allowance{}, RuleSafe},
		{"azure vmId any case", FlavourAzure, false, req("GET", "/metadata/instance/compute/VMID?api-version=2021-02-01", azureHdr...), Allowance{}, RuleSafe},
		{"azure no header", FlavourAzure, false, req("GET", "/metadata/instance/compute/location?api-version=2021-02-01"), Allowance{}, RuleAzureHeader},
		{"azure header false", FlavourAzure, false, req("GET", "/metadata/instance/compute/location", "Metadata", "false"), Allowance{}, RuleAzureHeader},
		{"azure token", FlavourAzure, false, req("GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F", azureHdr...), Allowance{}, RuleAzureCredentials},
		{"azure token case", FlavourAzure, false, req("GET", "/Metadata/Identity/OAuth2/Token", azureHdr...), Allowance{}, RuleAzureCredentials},
		{"azure whole compute has userData", FlavourAzure, false, req("GET", "/metadata/instance/compute?api-version=2021-02-01", azureHdr...), Allowance{Paths: []string{"/metadata/instance/compute"}}, RuleAzureUserData},
		{"azure whole instance", FlavourAzure, false, req("GET", "/metadata/instance?api-version=2021-02-01", azureHdr...), Allowance{}, RuleAzureUserData},
		{"azure root", FlavourAzure, false, req("GET", "/metadata/", azureHdr...), Allowance{}, RuleAzureCredentials},
		{"azure userData", FlavourAzure, false, req("GET", "/metadata/instance/compute/userData?api-version=2021-01-01&format=text", azureHdr...), Allowance{}, RuleAzureUserData},
		{"azure attested", FlavourAzure, false, req("GET", "/metadata/attested/document", azureHdr...), Allowance{}, RuleUnknownPath},
		{"azure granted token", FlavourAzure, false, req("GET", "/metadata/identity/oauth2/token", azureHdr...), Allowance{Grants: []Rule{RuleAzureCredentials}}, RuleGranted},

		// Shared
		{"host other", FlavourAuto, false, withHost(req("GET", "/latest/meta-data/instance-id"), "example.com"), Allowance{}, RuleHost},
		{"host empty", FlavourAuto, false, withHost(req("GET", "/latest/meta-data/instance-id"), ""), Allowance{}, RuleHost},
		{"host with port 80", FlavourAuto, false, withHost(req("GET", "/latest/meta-data/instance-id"), "169.254.169.254:80"), Allowance{}, RuleSafe},
		{"host with other port", FlavourAuto, false, withHost(req("GET", "/latest/meta-data/instance-id"), "169.254.169.254:8080"), Allowance{}, RuleHost},
		{"host ipv6", FlavourAuto, false, withHost(req("GET", "/latest/meta-data/instance-id"), "[fd00:ec2::254]"), Allowance{}, RuleSafe},
		{"absolute form", FlavourAuto, false, req("GET", "http://169.254.169.254/latest/meta-data/instance-id"), Allowance{}, RuleSafe},
		{"absolute form other host", FlavourAuto, false, req("GET", "http://evil.example/latest/meta-data/instance-id"), Allowance{}, RuleHost},
		{"root", FlavourAuto, false, req("GET", "/"), Allowance{}, RuleUnknownPath},
		{"get with body", FlavourAuto, false, withBody(req("GET", "/latest/meta-data/instance-id"), 5, nil), Allowance{}, RuleBody},
		{"get chunked", FlavourAuto, false, withBody(req("GET", "/latest/meta-data/instance-id"), -1, []string{"chunked"}), Allowance{}, RuleBody},
		// The canonicaliser refuses by name, even where the decoded path would be harmless.
		{"encoded slash", FlavourAWS, false, req("GET", "/latest%2Fmeta-data/instance-id"), Allowance{}, RuleEncodedSeparator},
		{"encoded slash lower", FlavourAWS, false, req("GET", "/latest%2fmeta-data/instance-id"), Allowance{}, RuleEncodedSeparator},
		{"encoded dot", FlavourAWS, false, req("GET", "/latest/meta-data/%2e/instance-id"), Allowance{}, RuleEncodedSeparator},
		{"encoded backslash", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id%5C"), Allowance{}, RuleEncodedSeparator},
		{"raw backslash", FlavourAWS, false, req("GET", "/latest\\meta-data/instance-id"), Allowance{}, RuleEncodedSeparator},
		{"double encoding", FlavourAWS, false, req("GET", "/latest/meta-data/instance%252Did"), Allowance{}, RuleEncoding},
		{"encoded NUL", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id%00"), Allowance{}, RuleEncoding},
		{"bad escape", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id%G0"), Allowance{}, RuleEncoding},
		{"double slash", FlavourAWS, false, req("GET", "/latest//meta-data/instance-id"), Allowance{}, RuleDoubleSlash},
		{"dot segment", FlavourAWS, false, req("GET", "/latest/./meta-data/instance-id"), Allowance{}, RuleDotSegment},
		{"dot-dot segment", FlavourAWS, false, req("GET", "/latest/x/../meta-data/instance-id"), Allowance{}, RuleDotSegment},
		{"path parameter", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id;x"), Allowance{}, RuleCharacter},
		{"fragment", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id#x"), Allowance{}, RuleTarget},
		{"harmless encoding decoded once", FlavourAWS, false, req("GET", "/latest/meta-data/instance%2Did"), Allowance{}, RuleSafe},
		{"header with underscore", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id", "X_Forwarded_For", "1.2.3.4"), Allowance{}, RuleHeaderName},
		{"too many headers", FlavourAWS, false, req("GET", "/latest/meta-data/instance-id", manyHeaders(maxHeaders+1)...), Allowance{}, RuleOversized},
		{"config allow", FlavourAuto, false, req("GET", "/latest/meta-data/placement/availability-zone"), Allowance{}, RuleExtra},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPolicy(t, Options{Flavour: tc.flavour, RequireIMDSv2: tc.v2, Allow: []string{"/latest/meta-data/placement/availability-zone"}})
			d := p.Decide(tc.r, tc.a)
			if d.Rule != tc.want {
				t.Fatalf("rule = %s (%s), want %s", d.Rule, d.Detail, tc.want)
			}
			wantAllowed := tc.want == RuleSafe || tc.want == RuleExtra || tc.want == RuleGranted || tc.want == RuleAWSToken
			if d.Allowed != wantAllowed {
				t.Fatalf("allowed = %v, want %v", d.Allowed, wantAllowed)
			}
		})
	}
}

func manyHeaders(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("X-H%d", i), "v")
	}
	return out
}

func withHost(r Request, host string) Request { r.Host = host; return r }

func withBody(r Request, n int64, te []string) Request {
	r.ContentLength, r.TransferEncoding = n, te
	return r
}

func TestForwardedTargetIsCanonical(t *testing.T) {
	p := mustPolicy(t, Options{Flavour: FlavourAuto})
	for target, want := range map[string]string{
		"/latest/meta-data/instance-%69d":                                        "/latest/meta-data/instance-id",
		"http://169.254.169.254/latest/meta-data/ami-id":                         "/latest/meta-data/ami-id",
		"/metadata/instance/compute/location?api-version=2021-02-01&format=text": "/metadata/instance/compute/location?api-version=2021-02-01&format=text",
		"/metadata/instance/compute/name?api-version=2021%2D02%2D01":             "/metadata/instance/compute/name?api-version=2021-02-01",
	} {
		r := req("GET", target, azureHdr...)
		d := p.Decide(r, Allowance{})
		if !d.Allowed || d.Target.RequestURI() != want {
			t.Errorf("%s: allowed %v (%s), forwards %q, want %q", target, d.Allowed, d.Rule, d.Target.RequestURI(), want)
		}
	}
}
