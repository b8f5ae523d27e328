package proxy

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
)

// decide runs the checks in order; the first refusal wins. It fills d's
// Target and Cloud as it learns them.
func (p *Policy) decide(r Request, a Allowance, d *Decision) (Rule, *Refusal) {
	if ref := checkHeaders(r.Header); ref != nil {
		return "", ref
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPut {
		return "", refuse(RuleMethod, "method %q", r.Method)
	}
	if len(r.TransferEncoding) > 0 || r.ContentLength > 0 || len(values(r.Header, "Transfer-Encoding")) > 0 {
		return "", refuse(RuleBody, "a metadata request carries no body")
	}
	t, ref := Canonicalise(r.Target)
	d.Target = t
	if ref != nil {
		return "", ref
	}
	if ref := p.checkHost(r.Host, t.Authority); ref != nil {
		return "", ref
	}
	if len(values(r.Header, "X-Forwarded-For")) > 0 || len(values(r.Header, "Forwarded")) > 0 {
		return "", refuse(RuleForwarded, "forwarded request (the metadata services refuse these too)")
	}
	segs := segments(t.Path, make([]string, 0, 16))
	if len(segs) == 0 {
		return "", refuse(RuleUnknownPath, "path %q", t.Path)
	}
	cloud := classify(segs[0])
	d.Cloud = cloud
	recursive := false
	if _, ok := t.Param("recursive"); ok {
		recursive = true
	}
	granted := false
	for _, c := range cloudOrder {
		cp := clouds[c]
		for _, dn := range cp.denials {
			hit := dn.pat.covers(segs) || ((recursive || cp.alwaysRecursive) && dn.pat.under(segs))
			if !hit {
				continue
			}
			if !slices.Contains(a.Grants, dn.rule) || !slices.Contains(Grantable, dn.rule) {
				return "", refuse(dn.rule, "%s", t.Path)
			}
			granted = true
		}
	}
	if !p.flavour.serves(cloud) {
		return "", refuse(RuleUnknownPath, "path %q is not a %s metadata path", t.Path, p.flavour)
	}
	cp := clouds[cloud]
	for _, q := range t.Params {
		if !slices.Contains(cp.params, strings.ToLower(q.Key)) {
			return "", refuse(RuleQuery, "%s metadata takes no query parameter %q", cloud, q.Key)
		}
	}
	if ref := p.checkCloudHeaders(cp, r, t); ref != nil {
		return "", ref
	}
	if r.Method == http.MethodPut {
		return RuleAWSToken, nil // checkCloudHeaders let only the token PUT through
	}
	switch {
	case granted:
		return RuleGranted, nil
	case matchExact(cp.safe, t.Path, cp.foldCase):
		return RuleSafe, nil
	case matchPatterns(p.allow, t.Path, cp.foldCase):
		return RuleExtra, nil
	case matchPatterns(a.Paths, t.Path, cp.foldCase):
		return RuleGranted, nil
	}
	return "", refuse(RuleUnknownPath, "path %q is not allowed", t.Path)
}

// checkHeaders refuses header sets that are oversized, or whose names
// proxies disagree on (underscores are dropped by some, kept by others).
func checkHeaders(h http.Header) *Refusal {
	n, size := 0, 0
	for k, vs := range h {
		if strings.IndexByte(k, '_') >= 0 {
			return refuse(RuleHeaderName, "header name %q", k)
		}
		for _, v := range vs {
			n++
			size += len(k) + len(v) + 4
		}
	}
	if n > maxHeaders || size > MaxHeaderBytes {
		return refuse(RuleOversized, "%d headers, %d bytes", n, size)
	}
	return nil
}

// values returns every value of a header, however its name is cased in h.
func values(h http.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

func (p *Policy) checkHost(host, authority string) *Refusal {
	if !p.knownHost(host) {
		return refuse(RuleHost, "host %q is not the metadata service", host)
	}
	if authority != "" && !p.knownHost(authority) {
		return refuse(RuleHost, "absolute-form host %q is not the metadata service", authority)
	}
	return nil
}

func (p *Policy) knownHost(h string) bool {
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ":80")
	return h != "" && slices.Contains(p.hosts, h)
}

func (p *Policy) checkCloudHeaders(cp *cloudPolicy, r Request, t Target) *Refusal {
	switch cp.cloud {
	case endpoints.AWS:
		if r.Method == http.MethodPut {
			if t.Path != awsTokenPath || len(t.Params) > 0 {
				return refuse(RuleMethod, "PUT is for the IMDSv2 token only")
			}
			ttl := values(r.Header, awsTTLHeader)
			if len(ttl) != 1 {
				return refuse(RuleAWSTokenTTL, "want one %s header", awsTTLHeader)
			}
			n, err := strconv.Atoi(ttl[0])
			if err != nil || n < 1 || n > awsTokenMaxTTL || strconv.Itoa(n) != ttl[0] {
				return refuse(RuleAWSTokenTTL, "token TTL %q", ttl[0])
			}
			return nil
		}
		if tok := values(r.Header, awsTokenHeader); p.requireIMDSv2 && (len(tok) != 1 || tok[0] == "") {
			return refuse(RuleAWSIMDSv1, "IMDSv2 required: no session token")
		}
	case endpoints.GCP:
		if r.Method == http.MethodPut {
			return refuse(RuleMethod, "PUT is for the AWS IMDSv2 token only")
		}
		if v := values(r.Header, gcpFlavorHeader); len(v) != 1 || v[0] != "Google" {
			return refuse(RuleGCPFlavorHeader, "want one header Metadata-Flavor: Google")
		}
	case endpoints.Azure:
		if r.Method == http.MethodPut {
			return refuse(RuleMethod, "PUT is for the AWS IMDSv2 token only")
		}
		if v := values(r.Header, azureHeader); len(v) != 1 || !strings.EqualFold(v[0], "true") {
			return refuse(RuleAzureHeader, "want one header Metadata: true")
		}
	}
	return nil
}

func matchExact(list []string, path string, fold bool) bool {
	for _, s := range list {
		if s == path || fold && strings.EqualFold(s, path) {
			return true
		}
	}
	return false
}

// matchPatterns matches exact paths and prefixes ending in "*".
func matchPatterns(list []string, path string, fold bool) bool {
	for _, s := range list {
		prefix, isPrefix := strings.CutSuffix(s, "*")
		if !isPrefix {
			if s == path || fold && strings.EqualFold(s, path) {
				return true
			}
			continue
		}
		if strings.HasPrefix(path, prefix) || fold && len(path) >= len(prefix) && strings.EqualFold(path[:len(prefix)], prefix) {
			return true
		}
	}
	return false
}
