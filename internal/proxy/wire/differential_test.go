package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/http/httpguts"
)

// netHTTPServer reads input as net/http's server reads a request for its
// handler, and returns the request and the length of its head. It is
// http.ReadRequest (request line, textproto headers, too many Host headers,
// Transfer-Encoding and Content-Length rules, Close) plus the checks of
// server.go's (*conn).readRequest and (*conn).serve:
//   - a protocol other than HTTP/1.x, or the "PRI * HTTP/2.0" preface, is refused (505);
//   - HTTP/1.1 without a Host header is refused, except for CONNECT and the preface;
//   - a single Host header must pass httpguts.ValidHostHeader;
//   - header names and values must pass httpguts.ValidHeaderFieldName/Value;
//   - an Expect without the token 100-continue is answered 417.
//
// It does not carry the server's MaxHeaderBytes (ParseRequest's limit is
// lower) nor its skipping of CRLFs before a request that follows a POST.
func netHTTPServer(input []byte) (*http.Request, int, error) {
	rd := bytes.NewReader(input)
	br := bufio.NewReader(rd)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	n := len(input) - br.Buffered() - rd.Len()

	preface := req.Method == "PRI" && len(req.Header) == 0 && req.URL.Path == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoMajor != 1 && !preface {
		return nil, 0, errors.New("505: unsupported protocol version")
	}
	// ReadRequest has removed Host from Header: read it as the server does,
	// before the removal.
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(input)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, 0, err
	}
	raw, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, 0, fmt.Errorf("ReadRequest accepted what ReadMIMEHeader refuses: %w", err)
	}
	hosts, haveHost := raw["Host"]
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && !preface && req.Method != "CONNECT" {
		return nil, 0, errors.New("400: missing required Host header")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return nil, 0, errors.New("400: malformed Host header")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, 0, errors.New("400: invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, 0, errors.New("400: invalid header value")
			}
		}
	}
	if e := req.Header.Get("Expect"); e != "" && !hasToken(e, "100-continue") {
		return nil, 0, errors.New("417: expectation failed")
	}
	return req, n, nil
}

// hasToken reports whether token is in v between the boundaries net/http's
// hasToken uses (space, comma, tab), without regard to case.
func hasToken(v, token string) bool {
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		if strings.EqualFold(f, token) {
			return true
		}
	}
	return false
}

// outcome of one differential case.
type outcome int

const (
	bothAccept outcome = iota
	bothRefuse
	onlyWireRefuses
)

// compareWithNetHTTP asserts that ParseRequest never accepts what net/http's
// server refuses, and that what both accept reads the same.
// It returns ParseRequest's error too.
func compareWithNetHTTP(t *testing.T, input []byte) (outcome, error) {
	t.Helper()
	var r Request
	n, err := ParseRequest(input, &r)
	if n < 0 || n > len(input) || n > MaxHead {
		t.Fatalf("%q: head length %d out of range", input, n)
	}
	var e *Error
	if err != nil && err != ErrIncomplete && !errors.As(err, &e) {
		t.Fatalf("%q: error %v is neither ErrIncomplete nor *Error", input, err)
	}
	ref, refN, refErr := netHTTPServer(input)
	switch {
	case err != nil && refErr != nil:
		return bothRefuse, err
	case err != nil:
		return onlyWireRefuses, err
	case refErr != nil:
		t.Fatalf("%q: ParseRequest accepts what net/http refuses: %v", input, refErr)
	}
	want := Request{
		Method: ref.Method, Target: ref.RequestURI, Host: ref.Host, Header: ref.Header,
		ContentLength: ref.ContentLength, TransferEncoding: ref.TransferEncoding,
		ProtoMajor: ref.ProtoMajor, ProtoMinor: ref.ProtoMinor, Close: ref.Close,
	}
	if d := cmp.Diff(want, r, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("%q: request differs from net/http's (-net/http +ParseRequest):\n%s", input, d)
	}
	if n != refN {
		t.Fatalf("%q: head length %d, net/http read %d", input, n, refN)
	}
	return bothAccept, nil
}

func TestParseRequestMatchesNetHTTP(t *testing.T) {
	for _, tc := range realistic {
		if got, err := compareWithNetHTTP(t, []byte(tc.head)); got != bothAccept {
			t.Errorf("%s: not accepted by both: %v", tc.name, err)
		}
	}
	for _, tc := range refusals {
		compareWithNetHTTP(t, []byte(tc.head))
	}

	const cases = 150_000
	rng := rand.New(rand.NewPCG(1, 2))
	var counts [3]int
	stricter := map[string]int{} // why ParseRequest alone refused
	for range cases {
		o, err := compareWithNetHTTP(t, mutate(rng))
		counts[o]++
		if o == onlyWireRefuses {
			stricter[err.Error()]++
		}
	}
	t.Logf("%d mutated heads: %d accepted by both, %d refused by both, %d refused only by ParseRequest",
		cases, counts[bothAccept], counts[bothRefuse], counts[onlyWireRefuses])
	for reason, n := range stricter {
		t.Logf("refused only by ParseRequest: %6d %s", n, reason)
	}
	// The generator must reach both sides of the line, or it tests little.
	if counts[bothAccept] < cases/10 || counts[bothRefuse] < cases/10 {
		t.Errorf("generator too one-sided: %v", counts)
	}
}

// interesting are bytes where parsers tend to differ.
const interesting = " \t\r\n:%/?#@\x00\x7f\x80\xffaZ09-,;=\"(*"

var (
	versions = []string{"HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/1", "http/1.1", "HTTP/1.1 ", "HTTP/11.1", "HTTP/a.b"}
	methods  = []string{"GET", "PUT", "POST", "HEAD", "OPTIONS", "CONNECT", "PRI", "get", "G T", "", "M-SEARCH", "GET\x00"}
	targets  = []string{
		"/", "*", "169.254.169.254:80", "http://169.254.169.254/latest", "HTTP://a:80/x?y=1",
		"https://[fd00:ec2::254]/latest", "http://u:p@a/", "http:///x", "http://a%41/", "http://a b/",
		"//a/b", "/a?b#c", "/a%2", "/a%2f?x=%zz", "foo:bar", "/%00", "http://[::1%25eth0]/",
		"http://a:port/", "http://a:/", "/x?",
	}
	extraLines = []string{
		"Host: 169.254.169.254", "Host: a/b", "Host:", "Host: [::1]:80", "host: A",
		"Content-Length: 0", "Content-Length: 5", "Content-Length: 05", "Content-Length: -1",
		"Content-Length:", "Content-Length: 1,1", "Content-Length: 99999999999999999999",
		"Transfer-Encoding: chunked", "Transfer-Encoding: Chunked ", "Transfer-Encoding: gzip",
		"Transfer-Encoding: chunked, gzip", "Transfer-Encoding: identity", "Trailer: X-A",
		"Expect: 100-continue", "Expect: 100-Continue", "Expect: foo", "Expect:",
		"Connection: close", "Connection: keep-alive", "Connection: Keep-Alive, Upgrade", "Connection: x,close",
		"Pragma: no-cache", "Cache-Control: max-age=0", " folded", "\tfolded", "NoColon", "X A: b",
		"X-A: b\x00", "X-A: \x80\xff", "Ümlaut: x", "x_y: z",
	}
)

// mutate builds one test input: a realistic head with one to four changes.
func mutate(rng *rand.Rand) []byte {
	b := []byte(realistic[rng.IntN(len(realistic))].head)
	for range 1 + rng.IntN(4) {
		b = mutateOnce(rng, b)
	}
	if rng.IntN(10) == 0 {
		b = append(b, "GET /next HTTP/1.1\r\n"...) // a pipelined request
	}
	return b
}

func mutateOnce(rng *rand.Rand, b []byte) []byte {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	byteOf := func() byte { return interesting[rng.IntN(len(interesting))] }
	switch rng.IntN(10) {
	case 0: // insert a byte
		i := rng.IntN(len(b) + 1)
		return append(b[:i:i], append([]byte{byteOf()}, b[i:]...)...)
	case 1: // delete a byte
		if len(b) == 0 {
			return b
		}
		i := rng.IntN(len(b))
		return append(b[:i:i], b[i+1:]...)
	case 2: // replace a byte
		if len(b) > 0 {
			b[rng.IntN(len(b))] = byteOf()
		}
		return b
	case 3: // change the case of letters
		for range 1 + rng.IntN(5) {
			if i := rng.IntN(len(b) + 1); i < len(b) && ('a' <= b[i] && b[i] <= 'z' || 'A' <= b[i] && b[i] <= 'Z') {
				b[i] ^= 0x20
			}
		}
		return b
	}

	// Line-level changes on a well-formed head.
	head, rest, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return b
	}
	lines := strings.Split(string(head), "\r\n")
	method, line, _ := strings.Cut(lines[0], " ")
	target, version, _ := strings.Cut(line, " ")
	switch rng.IntN(6) {
	case 0:
		version = pick(versions)
	case 1:
		method = pick(methods)
	case 2:
		target = pick(targets)
	case 3: // duplicate a header line
		if len(lines) > 1 {
			i := 1 + rng.IntN(len(lines)-1)
			lines = append(lines[:i+1], lines[i:]...)
		}
	case 4: // remove a header line
		if len(lines) > 1 {
			i := 1 + rng.IntN(len(lines)-1)
			lines = append(lines[:i], lines[i+1:]...)
		}
	case 5: // add a line
		i := 1 + rng.IntN(len(lines))
		lines = append(lines[:i], append([]string{pick(extraLines)}, lines[i:]...)...)
	}
	lines[0] = method + " " + target + " " + version
	return append([]byte(strings.Join(lines, "\r\n")+"\r\n\r\n"), rest...)
}

func FuzzParseRequest(f *testing.F) {
	for _, tc := range realistic {
		f.Add([]byte(tc.head))
	}
	for _, tc := range refusals {
		f.Add([]byte(tc.head))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		compareWithNetHTTP(t, input)
	})
}
