package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
)

// Flavour is the cloud whose metadata service the proxy fronts.
type Flavour string

// The flavours. Auto serves whichever cloud a path's layout names, with that
// cloud's rules.
const (
	FlavourAWS   Flavour = "aws"
	FlavourGCP   Flavour = "gcp"
	FlavourAzure Flavour = "azure"
	FlavourAuto  Flavour = "auto"
)

// ParseFlavour checks a flavour name.
func ParseFlavour(s string) (Flavour, error) {
	switch f := Flavour(s); f {
	case FlavourAWS, FlavourGCP, FlavourAzure, FlavourAuto:
		return f, nil
	}
	return "", fmt.Errorf("unknown cloud flavour %q (want aws, gcp, azure or auto)", s)
}

func (f Flavour) serves(c endpoints.Cloud) bool {
	return c != "" && (f == FlavourAuto || string(f) == string(c))
}

// Limits on request headers: a request with more is refused (RuleOversized).
const (
	MaxHeaderBytes = 8 << 10
	maxHeaders     = 48
)

// metadataHosts are the Host values a metadata client sends.
var metadataHosts = []string{"169.254.169.254", "metadata.google.internal", "metadata", "[fd00:ec2::254]"}

// Options configure a Policy.
type Options struct {
	Flavour Flavour
	// RequireIMDSv2 refuses AWS reads without a session token.
	RequireIMDSv2 bool
	// Allow adds paths for every pod: exact, or a prefix ending in "*".
	Allow []string
	// Hosts adds accepted Host values (tests, or a proxy on another name).
	Hosts []string
}

// Policy decides requests. It is safe for concurrent use.
type Policy struct {
	flavour       Flavour
	requireIMDSv2 bool
	allow         []string
	hosts         []string
}

// New checks the options and builds a Policy.
func New(o Options) (*Policy, error) {
	if _, err := ParseFlavour(string(o.Flavour)); err != nil {
		return nil, err
	}
	for _, p := range o.Allow {
		if err := CheckPathPattern(p); err != nil {
			return nil, err
		}
	}
	hosts := slices.Clone(metadataHosts)
	for _, h := range o.Hosts {
		hosts = append(hosts, strings.ToLower(h))
	}
	return &Policy{flavour: o.Flavour, requireIMDSv2: o.RequireIMDSv2, allow: slices.Clone(o.Allow), hosts: hosts}, nil
}

// CheckPathPattern checks an allowed path: a canonical path, optionally
// ending in "*" to allow everything that starts with it.
func CheckPathPattern(p string) error {
	t, r := Canonicalise(strings.TrimSuffix(p, "*"))
	if r != nil || t.Authority != "" || len(t.Params) > 0 {
		return fmt.Errorf("allowed path %q is not a canonical path", p)
	}
	return nil
}

// Request is what the policy reads of an HTTP request.
type Request struct {
	Method string
	// Target is the request-target as sent (http.Request.RequestURI).
	Target string
	Host   string
	Header http.Header
	// ContentLength is -1 when unknown.
	ContentLength    int64
	TransferEncoding []string
}

// Allowance is what a pod is allowed beyond the default: extra paths and
// refusals lifted.
type Allowance struct {
	Paths  []string
	Grants []Rule
	// Profile names where the allowance came from, for logs.
	Profile string
}

// Decision is the policy's answer.
type Decision struct {
	Allowed bool
	Rule    Rule
	Detail  string
	Cloud   endpoints.Cloud
	// Target is the canonical target; when allowed, forward exactly
	// Target.RequestURI().
	Target Target
}

// Decide decides one request for a pod with allowance a.
func (p *Policy) Decide(r Request, a Allowance) Decision {
	var d Decision
	rule, ref := p.decide(r, a, &d)
	if ref != nil {
		d.Rule, d.Detail = ref.Rule, ref.Detail
		return d
	}
	d.Allowed, d.Rule = true, rule
	return d
}
