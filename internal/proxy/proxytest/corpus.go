// Package proxytest holds the proxy's bypass corpus, for the policy's tests
// and for the server's, which send it over the wire.
package proxytest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/imdsguard/imdsguard/internal/proxy"
)

// Attack is one corpus entry: a request and the policy it is sent to.
type Attack struct {
	Flavour       proxy.Flavour
	RequireIMDSv2 bool
	Request       proxy.Request
	// Origin is "generated" or the file:line of a hand-written attack.
	Origin string
}

// Corpus is every generated attack and those of the file at path
// (internal/proxy/testdata/bypass.txt): one request a line,
// "FLAVOUR METHOD TARGET[ | Header: value]..."; "Host: x" sets the Host.
// Every hand-written attack must be refused; generated ones may be allowed
// when they are harmless spellings of a safe path.
func Corpus(path string) ([]Attack, error) {
	file, err := fileCorpus(path)
	if err != nil {
		return nil, err
	}
	return append(generatedCorpus(), file...), nil
}

// Req builds a request to the metadata service; headers are name, value
// pairs.
func Req(method, target string, headers ...string) proxy.Request {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Add(headers[i], headers[i+1])
	}
	return proxy.Request{Method: method, Target: target, Host: "169.254.169.254", Header: h, ContentLength: 0}
}

var (
	gcpHdr   = []string{"Metadata-Flavor", "Google"}
	azureHdr = []string{"Metadata", "true"}
)

// sensitive are the targets the corpus mutates, with the headers their
// cloud wants, so that only the trick decides.
var sensitive = []struct {
	flavour proxy.Flavour
	target  string
	headers []string
}{
	{proxy.FlavourAWS, "/latest/meta-data/iam/security-credentials/node-role", nil},
	{proxy.FlavourAWS, "/latest/meta-data/iam/security-credentials/", nil},
	{proxy.FlavourAWS, "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", nil},
	{proxy.FlavourAWS, "/latest/user-data", nil},
	{proxy.FlavourGCP, "/computeMetadata/v1/instance/service-accounts/default/token", gcpHdr},
	{proxy.FlavourGCP, "/computeMetadata/v1/instance/service-accounts/default/identity?audience=x", gcpHdr},
	{proxy.FlavourGCP, "/computeMetadata/v1/instance/attributes/kube-env", gcpHdr},
	{proxy.FlavourGCP, "/computeMetadata/v1beta1/instance/service-accounts/default/token", nil},
	{proxy.FlavourGCP, "/0.1/meta-data/service-accounts/default/acquire", nil},
	{proxy.FlavourGCP, "/computeMetadata/v1/instance/?recursive=true", gcpHdr},
	{proxy.FlavourAzure, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F", azureHdr},
	{proxy.FlavourAzure, "/metadata/instance/compute/userData?api-version=2021-01-01&format=text", azureHdr},
	{proxy.FlavourAzure, "/metadata/instance?api-version=2021-02-01", azureHdr},
}

// safeFor is one safe path per cloud, to climb out of.
var safeFor = map[proxy.Flavour]string{
	proxy.FlavourAWS:   "/latest/meta-data/instance-id",
	proxy.FlavourGCP:   "/computeMetadata/v1/instance/zone",
	proxy.FlavourAzure: "/metadata/instance/compute/location",
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
func generatedCorpus() []Attack {
	var out []Attack
	for _, s := range sensitive {
		path, query, hasQuery := strings.Cut(s.target, "?")
		targets := pathMutations(path)
		targets = append(targets, climbs(safeFor[s.flavour], path)...)
		for _, tg := range targets {
			if hasQuery {
				tg += "?" + query
			}
			for _, f := range []proxy.Flavour{s.flavour, proxy.FlavourAuto} {
				for _, v2 := range []bool{false, true} {
					hdr := s.headers
					if v2 && s.flavour == proxy.FlavourAWS {
						hdr = []string{"X-aws-ec2-metadata-token", "t"}
					}
					out = append(out, Attack{f, v2, Req("GET", tg, hdr...), "generated"})
				}
			}
			out = append(out, Attack{s.flavour, false, Req("GET", "http://169.254.169.254"+tg, s.headers...), "generated"})
		}
	}
	// Header tricks and Host games on safe paths: each must be refused.
	for f, safe := range safeFor {
		good := map[proxy.Flavour][]string{proxy.FlavourAWS: {"X-aws-ec2-metadata-token", "t"}, proxy.FlavourGCP: gcpHdr, proxy.FlavourAzure: azureHdr}[f]
		tricks := [][]string{
			append([]string{"X-Forwarded-For", "127.0.0.1"}, good...),
			append([]string{"x-forwarded-for", "127.0.0.1"}, good...),
			append([]string{"X_Forwarded_For", "127.0.0.1"}, good...),
			append([]string{"Forwarded", "for=127.0.0.1"}, good...),
			append([]string{"Transfer-Encoding", "chunked"}, good...),
		}
		switch f {
		case proxy.FlavourAWS:
			tricks = append(tricks, nil, []string{"X-aws-ec2-metadata-token", ""}, []string{"X_aws_ec2_metadata_token", "t"})
		case proxy.FlavourGCP:
			tricks = append(tricks, nil, []string{"Metadata-Flavor", "google"}, []string{"Metadata-Flavor", "Google "},
				[]string{"Metadata_Flavor", "Google"}, []string{"X-Google-Metadata-Request", "True"},
				[]string{"Metadata-Flavor", "Google", "Metadata-Flavor", "Google"}, []string{"Metadata-Flavor", ""})
		case proxy.FlavourAzure:
			tricks = append(tricks, nil, []string{"Metadata", "false"}, []string{"Metadata", "1"}, []string{"Metadata", "yes"},
				[]string{"Metadata", "true", "Metadata", "true"}, []string{"Metadata_", "true"})
		}
		for _, h := range tricks {
			out = append(out, Attack{f, true, Req("GET", safe, h...), "generated"})
		}
		for _, host := range []string{"", "evil.example", "169.254.169.254.evil.example", "169.254.169.254:8080", "169.254.169.254@evil.example",
			"127.0.0.1", "localhost", "metadata.google.internal.", "0xa9fea9fe", "2852039166", "169.254.169.254%00"} {
			r := Req("GET", safe, good...)
			r.Host = host
			out = append(out, Attack{f, true, r, "generated"})
		}
		for _, abs := range []string{"http://evil.example" + safe, "https://169.254.169.254" + safe, "HTTP://evil.example" + safe,
			"http://169.254.169.254@evil.example" + safe, "http://evil.example@169.254.169.254" + safe, "http://169.254.169.254:81" + safe,
			"//169.254.169.254" + safe, "*", "169.254.169.254:80", "http://169.254.169.254"} {
			out = append(out, Attack{f, true, Req("GET", abs, good...), "generated"})
		}
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get", "Get", "PROPFIND"} {
			out = append(out, Attack{f, true, Req(m, safe, good...), "generated"})
		}
		big := Req("GET", safe, good...)
		big.Header.Set("X-Padding", strings.Repeat("a", proxy.MaxHeaderBytes))
		out = append(out, Attack{f, true, big, "generated"})
	}
	return out
}

// fileCorpus reads testdata/bypass.txt: one request a line,
// "FLAVOUR METHOD TARGET[ | Header: value]..."; "Host: x" sets the Host.
func fileCorpus(path string) ([]Attack, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Attack
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		head := strings.SplitN(parts[0], " ", 3)
		if len(head) != 3 {
			return nil, fmt.Errorf("%s:%d: want FLAVOUR METHOD TARGET", path, n)
		}
		fl, err := proxy.ParseFlavour(head[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		r := proxy.Request{Method: head[1], Target: head[2], Host: "169.254.169.254", Header: http.Header{}}
		for _, h := range parts[1:] {
			k, v, ok := strings.Cut(h, ": ")
			if !ok {
				return nil, fmt.Errorf("%s:%d: header %q", path, n, h)
			}
			if k == "Host" {
				r.Host = v
				continue
			}
			r.Header[k] = append(r.Header[k], v)
		}
		out = append(out, Attack{fl, true, r, fmt.Sprintf("%s:%d", path, n)})
	}
	return out, sc.Err()
}

// SafePaths are the safe paths the corpus climbs out of: the only paths an
// attack may reach.
func SafePaths() []string {
	out := make([]string, 0, len(safeFor))
	for _, p := range safeFor {
		out = append(out, p)
	}
	return out
}
