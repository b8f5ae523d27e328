package probe

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Check is one way of asking a metadata endpoint for credentials.
type Check struct {
	// ID names the check, e.g. "aws-imdsv2".
	ID string
	// Endpoint is the catalogue ID of the endpoint it asks
	// (internal/endpoints), which ties its answer to the static verdict.
	Endpoint string
	// Host is what the request names in its URL and Host header, the way a
	// real client does; by default the check also connects to it, port 80.
	Host string
	run  func(ctx context.Context, s *session) Result
}

// Checks returns every check, in a stable order.
func Checks() []Check {
	return []Check{
		{ID: "aws-imdsv1", Endpoint: "aws-imds-ipv4", Host: "169.254.169.254", run: awsV1},
		{ID: "aws-imdsv2", Endpoint: "aws-imds-ipv4", Host: "169.254.169.254", run: awsV2},
		{ID: "aws-imdsv1-ipv6", Endpoint: "aws-imds-ipv6", Host: "[fd00:ec2::254]", run: awsV1},
		{ID: "aws-imdsv2-ipv6", Endpoint: "aws-imds-ipv6", Host: "[fd00:ec2::254]", run: awsV2},
		{ID: "gcp", Endpoint: "gcp-metadata-ipv4", Host: "169.254.169.254", run: gcp},
		{ID: "gcp-dns", Endpoint: "gcp-metadata-ipv4", Host: "metadata.google.internal", run: gcp},
		{ID: "gcp-ipv6", Endpoint: "gcp-metadata-ipv6", Host: "[fd20:ce::254]", run: gcp},
		{ID: "azure-identity", Endpoint: "azure-imds", Host: "169.254.169.254", run: azure},
		{ID: "azure-wireserver", Endpoint: "azure-wireserver", Host: "168.63.129.16", run: wireServer},
		{ID: "alibaba", Endpoint: "alibaba-metadata", Host: "100.100.100.200", run: alibaba},
	}
}

// roleName is what a role listing may hold for the check to ask for the
// role's credentials: a name, nothing that could change the path.
var roleName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)

// roleCredentials lists roles at dir and asks for the first one's
// credentials: the AWS and Alibaba layout.
func roleCredentials(ctx context.Context, s *session, dir string, h http.Header) Result {
	a := s.do(ctx, http.MethodGet, dir, h)
	if a.result != nil {
		return *a.result
	}
	if a.status != http.StatusOK {
		return s.answer(a)
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(a.body)), "\n")
	role = strings.TrimSpace(role)
	if !roleName.MatchString(role) {
		return s.result(Metadata, a.status, "role listing served, no usable role name")
	}
	return s.answer(s.do(ctx, http.MethodGet, dir+role, h))
}

const (
	awsCredentialDir   = "/latest/meta-data/iam/security-credentials/"
	awsTokenPath       = "/latest/api/token"
	awsTokenHeader     = "X-Aws-Ec2-Metadata-Token"
	awsTokenTTLHeader  = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	awsMaxTokenLength  = 512
	alibabaCredentials = "/latest/meta-data/ram/security-credentials/"
)

func awsV1(ctx context.Context, s *session) Result {
	return roleCredentials(ctx, s, awsCredentialDir, nil)
}

// awsV2 asks for a session token first, as IMDSv2 clients do; a refused
// token request is the answer.
func awsV2(ctx context.Context, s *session) Result {
	a := s.do(ctx, http.MethodPut, awsTokenPath, http.Header{awsTokenTTLHeader: {"60"}})
	if a.result != nil {
		return *a.result
	}
	tok := strings.TrimSpace(string(a.body))
	if a.status != http.StatusOK || tok == "" || len(tok) > awsMaxTokenLength {
		r := s.answer(a)
		if r.Class == Credentials || r.Class == Metadata {
			r.Class, r.Detail = Metadata, "token request answered without a usable token"
		}
		return r
	}
	return roleCredentials(ctx, s, awsCredentialDir, http.Header{awsTokenHeader: {tok}})
}

func gcp(ctx context.Context, s *session) Result {
	return s.answer(s.do(ctx, http.MethodGet, "/computeMetadata/v1/instance/service-accounts/default/token",
		http.Header{"Metadata-Flavor": {"Google"}}))
}

func azure(ctx context.Context, s *session) Result {
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://management.azure.com/"}}
	return s.answer(s.do(ctx, http.MethodGet, "/metadata/identity/oauth2/token?"+q.Encode(),
		http.Header{"Metadata": {"true"}}))
}

// wireServer asks for the protocol versions: an answer means the
// WireServer, and the extension configuration behind it, is reachable.
func wireServer(ctx context.Context, s *session) Result {
	return s.answer(s.do(ctx, http.MethodGet, "/?comp=versions", nil))
}

func alibaba(ctx context.Context, s *session) Result {
	return roleCredentials(ctx, s, alibabaCredentials, nil)
}
