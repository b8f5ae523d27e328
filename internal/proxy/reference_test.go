package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// This file is a deliberately simple second implementation of the decision,
// for the default allowance. It reads a request the way a lenient server
// would (decoding repeatedly, backslashes as slashes, slashes collapsed, dot
// segments resolved, path parameters dropped) and allows only an exact safe
// path with the cloud's headers. The real policy must never allow what this
// one refuses, and must agree with it on plain requests.

// refSafe are the default allow-lists, written out again.
var refSafe = map[Flavour][]string{
	FlavourAWS: {"/latest/meta-data/instance-id", "/latest/meta-data/placement/region", "/latest/meta-data/ami-id"},
	FlavourGCP: {"/computeMetadata/v1/project/project-id", "/computeMetadata/v1/project/numeric-project-id",
		"/computeMetadata/v1/instance/zone", "/computeMetadata/v1/instance/name"},
	FlavourAzure: {"/metadata/instance/compute/location", "/metadata/instance/compute/name", "/metadata/instance/compute/vmid",
		"/metadata/instance/compute/vmsize", "/metadata/instance/compute/zone", "/metadata/instance/compute/ostype",
		"/metadata/instance/compute/azenvironment"},
}

// lenientPath is what a forgiving server makes of a request-target.
func lenientPath(target string) (host, path, query string) {
	if len(target) > 7 && strings.EqualFold(target[:7], "http://") {
		rest := target[7:]
		i := strings.IndexAny(rest, "/?#")
		if i < 0 {
			i = len(rest)
		}
		host, target = rest[:i], rest[i:]
	}
	target, _, _ = strings.Cut(target, "#")
	target, query, _ = strings.Cut(target, "?")
	for range 4 {
		target = percentDecodeAll(target)
	}
	target = strings.ReplaceAll(target, "\\", "/")
	var out []string
	segs := strings.Split(target, "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		last := i == len(segs)-1
		switch s {
		case "", ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return host, "/" + strings.Join(out, "/"), percentDecodeAll(query)
}

func percentDecodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02x", &v); err == nil {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func refHeader(h http.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), name) {
			out = append(out, vs...)
		}
	}
	return out
}

// refDecide is the reference decision: allowed, and the lenient path.
func refDecide(f Flavour, requireV2 bool, r Request) (bool, string) {
	host, p, _ := lenientPath(r.Target)
	if host == "" {
		host = r.Host
	}
	host = strings.TrimSuffix(strings.ToLower(host), ":80")
	if !slices.Contains([]string{"169.254.169.254", "metadata.google.internal", "metadata", "[fd00:ec2::254]"}, host) {
		return false, p
	}
	if len(refHeader(r.Header, "X-Forwarded-For")) > 0 || len(refHeader(r.Header, "Forwarded")) > 0 {
		return false, p
	}
	if len(r.TransferEncoding) > 0 || r.ContentLength > 0 || len(refHeader(r.Header, "Transfer-Encoding")) > 0 {
		return false, p
	}
	for _, c := range []Flavour{FlavourAWS, FlavourGCP, FlavourAzure} {
		if f != FlavourAuto && f != c {
			continue
		}
		if c == FlavourAWS && r.Method == "PUT" && p == "/latest/api/token" {
			ttl := refHeader(r.Header, "X-aws-ec2-metadata-token-ttl-seconds")
			return len(ttl) == 1 && ttl[0] != "", p
		}
		if r.Method != "GET" && r.Method != "HEAD" {
			continue
		}
		match := slices.Contains(refSafe[c], p)
		if c == FlavourAzure {
			match = slices.Contains(refSafe[c], strings.ToLower(p))
		}
		if !match {
			continue
		}
		switch c {
		case FlavourAWS:
			tok := refHeader(r.Header, "X-aws-ec2-metadata-token")
			return !requireV2 || len(tok) == 1 && tok[0] != "", p
		case FlavourGCP:
			v := refHeader(r.Header, "Metadata-Flavor")
			return len(v) == 1 && v[0] == "Google", p
		case FlavourAzure:
			v := refHeader(r.Header, "Metadata")
			return len(v) == 1 && strings.EqualFold(v[0], "true"), p
		}
	}
	return false, p
}

// checkNoBypass is the property the bypass corpus, the differential test
// and the fuzz target share: what the policy allows, the lenient reading of
// the raw request allows too, names the same path, and the forwarded target
// reads the same again.
func checkNoBypass(p *Policy, f Flavour, requireV2 bool, r Request) error {
	d := p.Decide(r, Allowance{})
	if !d.Allowed {
		return nil
	}
	ok, lp := refDecide(f, requireV2, r)
	if !ok {
		return fmt.Errorf("allowed by %s, but a lenient server reads %q and the reference refuses it", d.Rule, lp)
	}
	fwd := d.Target.RequestURI()
	if _, fp, _ := lenientPath(fwd); fp != d.Target.Path || lp != d.Target.Path {
		return fmt.Errorf("allowed path %q, but a lenient server reads the raw target as %q and the forwarded %q as %q", d.Target.Path, lp, fwd, fp)
	}
	again, ref := Canonicalise(fwd)
	if ref != nil || again.RequestURI() != fwd {
		return fmt.Errorf("forwarded target %q does not canonicalise to itself", fwd)
	}
	return nil
}
