package proxy

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
)

// pattern matches path segments, compared without regard to case; "*"
// stands for any one segment.
type pattern []string

func compile(p string) pattern {
	return pattern(strings.Split(strings.Trim(strings.ToLower(p), "/"), "/"))
}

func (p pattern) segmentMatch(i int, seg string) bool {
	return p[i] == "*" || p[i] == seg
}

// covers reports whether segs lies at or below the pattern.
func (p pattern) covers(segs []string) bool {
	if len(segs) < len(p) {
		return false
	}
	for i := range p {
		if !p.segmentMatch(i, segs[i]) {
			return false
		}
	}
	return true
}

// under reports whether segs is an ancestor of what the pattern matches
// (or the same node), so that a recursive read of segs includes it.
func (p pattern) under(segs []string) bool {
	if len(segs) > len(p) {
		return false
	}
	for i, s := range segs {
		if !p.segmentMatch(i, s) {
			return false
		}
	}
	return true
}

// denial is a refused subtree and the rule that refuses it.
type denial struct {
	rule Rule
	pat  pattern
}

// cloudPolicy is what the proxy knows of one cloud's metadata service.
type cloudPolicy struct {
	cloud endpoints.Cloud
	// foldCase: the service matches paths without regard to case, so the
	// allow-list must too.
	foldCase bool
	// safe is the default allow-list: exact paths.
	safe []string
	// denials are refused (unless granted) wherever the path lies under
	// them, and, for a recursive read, wherever it lies above them.
	denials []denial
	// params are the query keys the service understands; others are
	// refused, so nothing reaches it that the policy did not read.
	params []string
	// alwaysRecursive: every read returns the whole subtree (Azure's JSON
	// documents), so an ancestor of a refused path is refused too.
	alwaysRecursive bool
}

// awsVersion matches the first segment of AWS IMDS paths: latest, 1.0 or a
// date such as 2021-07-15.
func awsVersion(seg string) bool {
	if seg == "latest" || seg == "1.0" {
		return true
	}
	if len(seg) != 10 || seg[4] != '-' || seg[7] != '-' {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if i != 4 && i != 7 && (seg[i] < '0' || seg[i] > '9') {
			return false
		}
	}
	return true
}

// Paths of the AWS IMDSv2 token, and its TTL bounds in seconds.
const (
	awsTokenPath    = "/latest/api/token"
	awsTokenMaxTTL  = 21600
	awsTokenHeader  = "X-Aws-Ec2-Metadata-Token"
	awsTTLHeader    = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	gcpFlavorHeader = "Metadata-Flavor"
	azureHeader     = "Metadata"
)

// cloudOrder is the order in which refusals are tried, so that decisions
// are deterministic.
var cloudOrder = []endpoints.Cloud{endpoints.AWS, endpoints.GCP, endpoints.Azure}

var clouds = map[endpoints.Cloud]*cloudPolicy{
	endpoints.AWS: {
		cloud: endpoints.AWS,
		safe:  []string{"/latest/meta-data/instance-id", "/latest/meta-data/placement/region", "/latest/meta-data/ami-id"},
		denials: []denial{
			{RuleAWSCredentials, compile("*/meta-data/iam/security-credentials")},
			{RuleAWSCredentials, compile("*/meta-data/identity-credentials")},
			{RuleAWSUserData, compile("*/user-data")},
		},
		params: nil, // IMDS reads no query
	},
	endpoints.GCP: {
		cloud: endpoints.GCP,
		safe: []string{"/computeMetadata/v1/project/project-id", "/computeMetadata/v1/project/numeric-project-id",
			"/computeMetadata/v1/instance/zone", "/computeMetadata/v1/instance/name"},
		denials: []denial{
			{RuleGCPLegacy, compile("0.1")},
			{RuleGCPLegacy, compile("computemetadata/v1beta1")},
			{RuleGCPCredentials, compile("computemetadata/*/instance/service-accounts/*/token")},
			{RuleGCPCredentials, compile("computemetadata/*/instance/service-accounts/*/identity")},
			{RuleGCPKubeEnv, compile("computemetadata/*/instance/attributes/kube-env")},
		},
		params: []string{"alt", "recursive", "wait_for_change", "last_etag", "timeout_sec", "audience", "format", "licenses"},
	},
	endpoints.Azure: {
		cloud:    endpoints.Azure,
		foldCase: true,
		safe: []string{"/metadata/instance/compute/location", "/metadata/instance/compute/name", "/metadata/instance/compute/vmId",
			"/metadata/instance/compute/vmSize", "/metadata/instance/compute/zone", "/metadata/instance/compute/osType",
			"/metadata/instance/compute/azEnvironment"},
		denials: []denial{
			{RuleAzureCredentials, compile("metadata/identity")},
			{RuleAzureUserData, compile("metadata/instance/compute/userData")},
			{RuleAzureUserData, compile("metadata/instance/compute/customData")},
		},
		params:          []string{"api-version", "format", "resource", "client_id", "object_id", "msi_res_id", "mi_res_id"},
		alwaysRecursive: true,
	},
}

// classify names the cloud whose path layout the path follows, or "".
func classify(first string) endpoints.Cloud {
	switch {
	case awsVersion(first):
		return endpoints.AWS
	case first == "computemetadata" || first == "0.1":
		return endpoints.GCP
	case first == "metadata":
		return endpoints.Azure
	}
	return ""
}

// segments splits a canonical path into lower-case segments, dropping the
// empty one a trailing slash leaves. It appends to buf, so that a caller's
// array can hold them.
func segments(path string, buf []string) []string {
	s := buf
	for seg := range strings.SplitSeq(strings.TrimPrefix(strings.ToLower(path), "/"), "/") {
		s = append(s, seg)
	}
	if len(s) > 0 && s[len(s)-1] == "" {
		s = s[:len(s)-1]
	}
	return s
}
