package proxy

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// attack is one corpus entry: a request and the flavour it is sent to.
type attack struct {
	flavour   Flavour
	requireV2 bool
	r         Request
	origin    string
}

// sensitive are the targets the corpus mutates, with the headers their
// cloud wants, so that only the trick decides.
var sensitive = []struct {
	flavour Flavour
	target  string
	headers []string
}{
	{FlavourAWS, "/latest/meta-data/iam/security-credentials/node-role", nil},
	{FlavourAWS, "/latest/meta-data/iam/security-credentials/", nil},
	{FlavourAWS, "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", nil},
	{FlavourAWS, "/latest/user-data", nil},
	{FlavourGCP, "/computeMetadata/v1/instance/service-accounts/default/token", gcpHdr},
	{FlavourGCP, "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", gcpHdr},
	{FlavourGCP, "/computeMetadata/v1/instance/attributes/kube-env", gcpHdr},
	{FlavourGCP, "/computeMetadata/v1beta1/instance/service-accounts/default/token", nil},
	{FlavourGCP, "/0.1/meta-data/service-accounts/default/acquire", nil},
	{FlavourGCP, "/computeMetadata/v1/instance/?recursive=true", gcpHdr},
	{FlavourAzure, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F", azureHdr},
	{FlavourAzure, "/metadata/instance/compute/userData?api-version=2021-01-01&format=text", azureHdr},
	{FlavourAzure, "/metadata/instance?api-version=2021-02-01", azureHdr},
}

// safeFor is one safe path per cloud, to climb out of.
var safeFor = map[Flavour]string{
	FlavourAWS:   "/latest/meta-data/instance-id",
	FlavourGCP:   "/computeMetadata/v1/instance/zone",
	FlavourAzure: "/metadata/instance/compute/location",
}

// pathMutations rewrite the path of a sensitive target.
func pathMutations(p string) []string {
	var out []string
	add := func(s ...string) { out = append(out, s...) }
	add(p)
	for i := 0; i < len(p); i++ { // one byte encoded, both hex cases
		add(p[:i]+fmt.Sprintf("%%%02X", p[i])+p[i+1:], p[:i]+fmt.Sprintf("%%%02x", p[i])+p[i+1:])
	}
	var all, dbl strings.Builder
	for i := 0; i < len(p); i++ {
		fmt.Fprintf(&all, "%%%02X", p[i])
		fmt.Fprintf(&dbl, "%%25%02X", p[i])
	}
	add(all.String(), dbl.String())
	add(strings.ReplaceAll(p, "/", "%2F"), strings.ReplaceAll(p, "/", "%252F"), strings.ReplaceAll(p, "/", "%2f"),
		strings.ReplaceAll(p, "/", "\\"), "/"+strings.ReplaceAll(p[1:], "/", "\\"), strings.ReplaceAll(p, "/", "%5C"),
		strings.ReplaceAll(p, "/", "/%2e/"), strings.ReplaceAll(p, "/", "/./"), strings.ReplaceAll(p, "-", "%2D"),
		strings.ToUpper(p), strings.ToLower(p), swapCase(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			add(p[:i]+"/"+p[i:], p[:i]+"/."+p[i:], p[:i]+"/x/.."+p[i:], p[:i]+"/x/%2e%2e"+p[i:], p[:i]+"/x/.%2E"+p[i:],
				p[:i]+"/x/..;"+p[i:], p[:i]+";x"+p[i:], p[:i]+"%00"+p[i:], p[:i]+"%2F"+p[i+1:], p[:i]+"%u002f"+p[i+1:],
				p[:i]+"/"+strings.ToUpper(p[i+1:]), p[:i]+"\t"+p[i:], p[:i]+"%09"+p[i:], p[:i]+"%C0%AF"+p[i+1:])
		}
	}
	add(p+"/", p+"/.", p+"/..", p+"%00", p+"%2500", p+";x=1", p+"#frag", p+"%23", p+"%3F", p+".", p+"~", p+" ", p+"%20")
	return out
}

func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 32
		case 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// climbs reach a sensitive target from a safe path through dot segments in
// every spelling.
func climbs(safe, target string) []string {
	depth := strings.Count(safe, "/")
	var out []string
	for _, up := range []string{"..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%252e%252e", "..%00", "..;", "...."} {
		for _, sep := range []string{"/", "%2f", "%2F", "\\", "%5c", "%252f"} {
			out = append(out, safe+strings.Repeat(sep+up, depth)+target)
		}
	}
	// Queries and fragments that carry the target where a careless
	// matcher might read them as the path.
	out = append(out, safe+"?"+target, safe+"?x="+target, safe+"#"+target, safe+"%3F"+target, safe+"%23"+target,
		safe+"/"+target, target+"?"+safe, target+"#"+safe, target+"%00"+safe, target+"?x="+safe)
	return out
}

// generatedCorpus builds every mutation, climb, header trick and Host game
// for the sensitive targets.
func generatedCorpus() []attack {
	var out []attack
	for _, s := range sensitive {
		path, query, hasQuery := strings.Cut(s.target, "?")
		targets := pathMutations(path)
		targets = append(targets, climbs(safeFor[s.flavour], path)...)
		for _, tg := range targets {
			if hasQuery {
				tg += "?" + query
			}
			for _, f := range []Flavour{s.flavour, FlavourAuto} {
				for _, v2 := range []bool{false, true} {
					hdr := s.headers
					if v2 && s.flavour == FlavourAWS {
						hdr = []string{"X-aws-ec2-metadata-token", "t"}
					}
					out = append(out, attack{f, v2, req("GET", tg, hdr...), "generated"})
				}
			}
			out = append(out, attack{s.flavour, false, req("GET", "http://169.254.169.254"+tg, s.headers...), "generated"})
		}
	}
	// Header tricks and Host games on safe paths: each must be refused.
	for f, safe := range safeFor {
		good := map[Flavour][]string{FlavourAWS: {"X-aws-ec2-metadata-token", "t"}, FlavourGCP: gcpHdr, FlavourAzure: azureHdr}[f]
		tricks := [][]string{
			append([]string{"X-Forwarded-For", "127.0.0.1"}, good...),
			append([]string{"x-forwarded-for", "127.0.0.1"}, good...),
			append([]string{"X_Forwarded_For", "127.0.0.1"}, good...),
			append([]string{"Forwarded", "for=127.0.0.1"}, good...),
			append([]string{"Transfer-Encoding", "chunked"}, good...),
		}
		switch f {
		case FlavourAWS:
			tricks = append(tricks, nil, []string{"X-aws-ec2-metadata-token", ""}, []string{"X_aws_ec2_metadata_token", "t"})
		case FlavourGCP:
			tricks = append(tricks, nil, []string{"Metadata-Flavor", "google"}, []string{"Metadata-Flavor", "Google "},
				[]string{"Metadata_Flavor", "Google"}, []string{"X-Google-Metadata-Request", "True"},
				[]string{"Metadata-Flavor", "Google", "Metadata-Flavor", "Google"}, []string{"Metadata-Flavor", ""})
		case FlavourAzure:
			tricks = append(tricks, nil, []string{"Metadata", "false"}, []string{"Metadata", "1"}, []string{"Metadata", "yes"},
				[]string{"Metadata", "true", "Metadata", "true"}, []string{"Metadata_", "true"})
		}
		for _, h := range tricks {
			out = append(out, attack{f, true, req("GET", safe, h...), "generated"})
		}
		for _, host := range []string{"", "evil.example", "169.254.169.254.evil.example", "169.254.169.254:8080", "169.254.169.254@evil.example",
			"127.0.0.1", "localhost", "metadata.google.internal.", "0xa9fea9fe", "2852039166", "169.254.169.254%00"} {
			r := req("GET", safe, good...)
			r.Host = host
			out = append(out, attack{f, true, r, "generated"})
		}
		for _, abs := range []string{"http://evil.example" + safe, "https://169.254.169.254" + safe, "HTTP://evil.example" + safe,
			"http://169.254.169.254@evil.example" + safe, "http://evil.example@169.254.169.254" + safe, "http://169.254.169.254:81" + safe,
			"//169.254.169.254" + safe, "*", "169.254.169.254:80", "http://169.254.169.254"} {
			out = append(out, attack{f, true, req("GET", abs, good...), "generated"})
		}
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "Get", "PROPFIND"} {
			out = append(out, attack{f, true, req(m, safe, good...), "generated"})
		}
		big := req("GET", safe, good...)
		big.Header.Set("X-Padding", strings.Repeat("a", maxHeaderBytes))
		out = append(out, attack{f, true, big, "generated"})
	}
	return out
}

// fileCorpus reads testdata/bypass.txt: one request a line,
// "FLAVOUR METHOD TARGET[ | Header: value]..."; "Host: x" sets the Host.
func fileCorpus(t *testing.T) []attack {
	t.Helper()
	f, err := os.Open("testdata/bypass.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []attack
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		head := strings.SplitN(parts[0], " ", 3)
		if len(head) != 3 {
			t.Fatalf("testdata/bypass.txt:%d: want FLAVOUR METHOD TARGET", n)
		}
		fl, err := ParseFlavour(head[0])
		if err != nil {
			t.Fatalf("testdata/bypass.txt:%d: %v", n, err)
		}
		r := Request{Method: head[1], Target: head[2], Host: "169.254.169.254", Header: http.Header{}}
		for _, h := range parts[1:] {
			k, v, ok := strings.Cut(h, ": ")
			if !ok {
				t.Fatalf("testdata/bypass.txt:%d: header %q", n, h)
			}
			if k == "Host" {
				r.Host = v
				continue
			}
			r.Header[k] = append(r.Header[k], v)
		}
		out = append(out, attack{fl, true, r, fmt.Sprintf("testdata/bypass.txt:%d", n)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBypassCorpus sends every attack through the policy. A bypass is an
// allowed request that a lenient server would read as something other than
// the safe path the policy matched. The corpus is built so that almost all
// of it must be refused outright; the count of those is checked too, so a
// policy that stopped refusing would not pass by allowing "consistently".
func TestBypassCorpus(t *testing.T) {
	corpus := append(generatedCorpus(), fileCorpus(t)...)
	policies := map[[2]any]*Policy{}
	bypasses, allowed := 0, 0
	for _, a := range corpus {
		key := [2]any{a.flavour, a.requireV2}
		p := policies[key]
		if p == nil {
			p = mustPolicy(t, Options{Flavour: a.flavour, RequireIMDSv2: a.requireV2})
			policies[key] = p
		}
		if err := checkNoBypass(p, a.flavour, a.requireV2, a.r); err != nil {
			bypasses++
			t.Errorf("%s: %s %q (host %q, headers %v): BYPASS: %v", a.origin, a.r.Method, a.r.Target, a.r.Host, a.r.Header, err)
		}
		if p.Decide(a.r, Allowance{}).Allowed {
			allowed++
			if a.origin != "generated" {
				t.Errorf("%s: %s %q allowed; every entry of bypass.txt must be refused", a.origin, a.r.Method, a.r.Target)
			}
		}
	}
	t.Logf("bypass corpus: %d requests, %d allowed (harmless spellings of safe paths), %d bypasses", len(corpus), allowed, bypasses)
	if len(corpus) < 3000 {
		t.Errorf("corpus has %d requests; the generator lost its mutations", len(corpus))
	}
	if allowed != 0 {
		t.Errorf("%d corpus requests allowed; every one aims at a credential, a header rule or the Host", allowed)
	}
}
