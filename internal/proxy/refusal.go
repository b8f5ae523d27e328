package proxy

import "fmt"

// Rule names the rule behind a decision. Rule IDs are stable: they appear in
// logs, metrics and the refusal response.
type Rule string

// Rules that allow.
const (
	RuleSafe     Rule = "allow-safe"      // the cloud's default allow-list
	RuleExtra    Rule = "allow-config"    // the config file's allow list
	RuleGranted  Rule = "allow-granted"   // a profile selected for the pod
	RuleAWSToken Rule = "allow-aws-token" // the IMDSv2 session token PUT
)

// Rules that refuse a malformed or suspicious request.
const (
	RuleOversized        Rule = "oversized"
	RuleTarget           Rule = "request-target"
	RuleEncoding         Rule = "encoding"
	RuleEncodedSeparator Rule = "encoded-separator"
	RuleCharacter        Rule = "path-character"
	RuleDoubleSlash      Rule = "double-slash"
	RuleDotSegment       Rule = "dot-segment"
	RuleQuery            Rule = "query"
	RuleMethod           Rule = "method"
	RuleBody             Rule = "body"
	RuleHeaderName       Rule = "header-name"
	RuleForwarded        Rule = "forwarded-header"
	RuleHost             Rule = "host"
	RuleUnknownPath      Rule = "unknown-path"
)

// Rules of one cloud.
const (
	RuleAWSCredentials   Rule = "aws-credentials"
	RuleAWSUserData      Rule = "aws-user-data"
	RuleAWSIMDSv1        Rule = "aws-imdsv1"
	RuleAWSTokenTTL      Rule = "aws-token-ttl"
	RuleGCPCredentials   Rule = "gcp-credentials"
	RuleGCPKubeEnv       Rule = "gcp-kube-env"
	RuleGCPLegacy        Rule = "gcp-legacy"
	RuleGCPFlavorHeader  Rule = "gcp-flavor-header"
	RuleAzureCredentials Rule = "azure-credentials"
	RuleAzureUserData    Rule = "azure-user-data"
	RuleAzureHeader      Rule = "azure-metadata-header"
)

// Grantable lists the refusals a profile may lift. The rest guard the
// proxy's own view of the request, or endpoints that bypass the header
// protections (GCP's legacy paths), and cannot be lifted.
var Grantable = []Rule{RuleAWSCredentials, RuleAWSUserData, RuleGCPCredentials, RuleGCPKubeEnv, RuleAzureCredentials, RuleAzureUserData}

// Refusal says why a request is refused.
type Refusal struct {
	Rule   Rule
	Detail string
}

func (r *Refusal) Error() string { return string(r.Rule) + ": " + r.Detail }

func refuse(rule Rule, format string, args ...any) *Refusal {
	return &Refusal{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}
