package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Realistic responses of the metadata services.
const (
	awsHead = "HTTP/1.1 200 OK\r\n" +
		"Content-Type: text/plain\r\n" +
		"Accept-Ranges: none\r\n" +
		"Last-Modified: Tue, 10 Nov 2026 08:01:02 GMT\r\n" +
		"Content-Length: 19\r\n" +
		"Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
		"Server: EC2ws\r\n" +
		"Connection: close\r\n\r\n"
	awsBody = "ami-0abcdef12345678"

	aws401 = "HTTP/1.1 401 Unauthorized\r\n" +
		"Content-Length: 0\r\n" +
		"Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
		"Server: EC2ws\r\n" +
		"Connection: close\r\n" +
		"Content-Type: text/plain\r\n\r\n"

	gcpHead = "HTTP/1.1 200 OK\r\n" +
		"Metadata-Flavor: Google\r\n" +
		"Content-Type: application/text\r\n" +
		"ETag: 1a2b3c4d5e6f\r\n" +
		"Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
		"Server: Metadata Server for VM\r\n" +
		"X-XSS-Protection: 0\r\n" +
		"X-Frame-Options: SAMEORIGIN\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n"
	gcpBody = "c\r\nprojects/123\r\n5;ext=1\r\n/zone\r\n0\r\n\r\n"

	azureBody = `{"compute":{"location":"westeurope","vmId":"02aab8a4-74ef-476e-8182-f6d2ba4166a6"}}`
	azureHead = "HTTP/1.1 200 OK\r\n" +
		"Content-Type: application/json; charset=utf-8\r\n" +
		"Server: Microsoft-IIS/10.0\r\n" +
		"Date: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
		"Content-Length: 83\r\n\r\n"
)

// decoded is a response read from one input: the head, the body and how
// many bytes of the input both took.
type decoded struct {
	resp     Response
	body     []byte
	consumed int
}

// decodeWhole reads a response from input in one piece: the head with
// ParseResponse, the body as its framing says (a body delimited by the close
// is the rest of the input). An incomplete response is an error.
func decodeWhole(input []byte, method string) (decoded, error) {
	var d decoded
	n, err := ParseResponse(input, method, &d.resp)
	if err != nil {
		return d, err
	}
	rest := input[n:]
	r := &d.resp
	switch {
	case r.NoBody:
		d.consumed = n
	case r.Chunked:
		var c Chunked
		body, k, done, err := c.Decode(rest, nil)
		if err != nil {
			return d, err
		}
		if !done {
			return d, errors.New("chunked body cut short")
		}
		d.body, d.consumed = body, n+k
	case r.ContentLength >= 0:
		if int64(len(rest)) < r.ContentLength {
			return d, errors.New("body cut short")
		}
		d.body, d.consumed = rest[:r.ContentLength], n+int(r.ContentLength)
	default:
		d.body, d.consumed = rest, len(input)
	}
	return d, nil
}

// decodePieces is decodeWhole with the input arriving in small pieces, as
// the event loop sees it: the head parsed again on each longer prefix, the
// body decoded from what has arrived, the bytes not consumed passed again.
func decodePieces(input []byte, method string, rng *rand.Rand) (decoded, error) {
	var d decoded
	got := 0
	next := func() int { return min(len(input), got+1+rng.IntN(16)) }
	n := 0
	for {
		got = next()
		var err error
		n, err = ParseResponse(input[:got], method, &d.resp)
		if err == nil {
			break
		}
		if err != ErrIncomplete || got == len(input) {
			return d, err
		}
	}
	r := &d.resp
	switch {
	case r.NoBody:
		d.consumed = n
	case r.Chunked:
		var c Chunked
		c.Reset()
		at := n // input[at:got] has arrived and is not consumed
		for {
			body, k, done, err := c.Decode(input[at:got], d.body)
			d.body = body
			at += k
			if err != nil {
				return d, err
			}
			if done {
				break
			}
			if got == len(input) {
				return d, errors.New("chunked body cut short")
			}
			got = next()
		}
		d.consumed = at
	case r.ContentLength >= 0:
		if int64(len(input)-n) < r.ContentLength {
			return d, errors.New("body cut short")
		}
		d.body, d.consumed = input[n:n+int(r.ContentLength)], n+int(r.ContentLength)
	default:
		d.body, d.consumed = input[n:], len(input)
	}
	return d, nil
}

// reference reads a response from input with net/http, returning the bytes
// of input it consumed.
func reference(input []byte, method string) (*http.Response, []byte, int, error) {
	rd := bytes.NewReader(input)
	br := bufio.NewReader(rd)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, 0, err
	}
	return resp, body, len(input) - br.Buffered() - rd.Len(), nil
}

type verdict int

const (
	respBothAccept verdict = iota
	respBothRefuse
	onlyWeRefuse // allowed: we are stricter
)

// checkNetHTTP decodes input with ours, whole and in pieces, and with
// net/http, and fails t when ours accepts something net/http refuses or
// reads it differently.
func checkNetHTTP(t testing.TB, input []byte, method string, rng *rand.Rand) (verdict, error) {
	t.Helper()
	d, err := decodeWhole(input, method)
	p, perr := decodePieces(input, method, rng)
	if (err == nil) != (perr == nil) {
		t.Fatalf("%q %s: whole: %v, in pieces: %v", input, method, err, perr)
	}
	if err == nil {
		if diff := cmp.Diff(p, d, cmp.AllowUnexported(decoded{})); diff != "" {
			t.Fatalf("%q %s: in pieces (-got +whole):\n%s", input, method, diff)
		}
	}
	resp, body, consumed, rerr := reference(input, method)
	switch {
	case err != nil && rerr != nil:
		return respBothRefuse, nil
	case err != nil:
		return onlyWeRefuse, err
	case rerr != nil:
		t.Fatalf("%q %s: we accept, net/http refuses: %v", input, method, rerr)
	}

	r := d.resp
	got := map[string]any{
		"StatusCode": r.StatusCode, "Status": fmt.Sprintf("%d %s", r.StatusCode, r.Reason),
		"Header": normalize(r, resp.Header), "ContentLength": r.ContentLength,
		"Chunked": r.Chunked, "Close": r.Close, "Body": string(d.body), "Consumed": d.consumed,
	}
	want := map[string]any{
		"StatusCode": resp.StatusCode, "Status": resp.Status,
		"Header": resp.Header, "ContentLength": resp.ContentLength,
		"Chunked": len(resp.TransferEncoding) > 0, "Close": resp.Close, "Body": string(body), "Consumed": consumed,
	}
	if r.Reason == "" && !strings.HasSuffix(resp.Status, " ") {
		got["Status"] = fmt.Sprint(r.StatusCode) // no space after the code
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Fatalf("%q %s: ours and net/http differ (-ours +net/http):\n%s", input, method, diff)
	}
	return respBothAccept, nil
}

// normalize returns a copy of our header with the changes net/http's
// ReadResponse makes to its own: it removes Transfer-Encoding always, the
// Trailer header of a chunked response and Connection: close in HTTP/1.1
// (both then live in other fields, compared apart), keeps one of several
// equal Content-Length values, and adds Cache-Control: no-cache for Pragma:
// no-cache.
func normalize(r Response, ref http.Header) http.Header {
	h := r.Header.Clone()
	delete(h, "Transfer-Encoding")
	if r.Chunked {
		delete(h, "Trailer")
	}
	if _, ok := ref["Connection"]; !ok && r.Close {
		delete(h, "Connection")
	}
	if cl := h["Content-Length"]; len(cl) > 1 {
		h["Content-Length"] = cl[:1]
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	return h
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		input   string
		want    Response
		body    string
		rest    string // bytes left after the response
		wantErr string
	}{{
		name:  "aws",
		input: awsHead + awsBody,
		body:  awsBody,
		want: Response{StatusCode: 200, Reason: "OK", ContentLength: 19, Close: true, Header: http.Header{
			"Content-Type":   {"text/plain"},
			"Accept-Ranges":  {"none"},
			"Last-Modified":  {"Tue, 10 Nov 2026 08:01:02 GMT"},
			"Content-Length": {"19"},
			"Date":           {"Sun, 22 Nov 2026 12:00:00 GMT"},
			"Server":         {"EC2ws"},
			"Connection":     {"close"},
		}},
	}, {
		name:  "aws missing token",
		input: aws401,
		want: Response{StatusCode: 401, Reason: "Unauthorized", ContentLength: 0, Close: true, Header: http.Header{
			"Content-Length": {"0"},
			"Date":           {"Sun, 22 Nov 2026 12:00:00 GMT"},
			"Server":         {"EC2ws"},
			"Connection":     {"close"},
			"Content-Type":   {"text/plain"},
		}},
	}, {
		name:  "gcp chunked, next response left",
		input: gcpHead + gcpBody + aws401,
		body:  "projects/123/zone",
		rest:  aws401,
		want: Response{StatusCode: 200, Reason: "OK", ContentLength: -1, Chunked: true, Header: http.Header{
			"Metadata-Flavor":   {"Google"},
			"Content-Type":      {"application/text"},
			"Etag":              {"1a2b3c4d5e6f"},
			"Date":              {"Sun, 22 Nov 2026 12:00:00 GMT"},
			"Server":            {"Metadata Server for VM"},
			"X-Xss-Protection":  {"0"},
			"X-Frame-Options":   {"SAMEORIGIN"},
			"Transfer-Encoding": {"chunked"},
		}},
	}, {
		name:  "chunked with trailers",
		input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\nnext",
		body:  "abc",
		rest:  "next",
		want: Response{StatusCode: 200, Reason: "OK", ContentLength: -1, Chunked: true, Header: http.Header{
			"Transfer-Encoding": {"Chunked"},
			"Trailer":           {"X-Sum"},
		}},
	}, {
		name:  "azure json",
		input: azureHead + azureBody,
		body:  azureBody,
		want: Response{StatusCode: 200, Reason: "OK", ContentLength: 83, Header: http.Header{
			"Content-Type":   {"application/json; charset=utf-8"},
			"Server":         {"Microsoft-IIS/10.0"},
			"Date":           {"Sun, 22 Nov 2026 12:00:00 GMT"},
			"Content-Length": {"83"},
		}},
	}, {
		name:   "head keeps its content-length",
		method: "HEAD",
		input:  awsHead + "HTTP/1.1",
		rest:   "HTTP/1.1",
		want:   Response{StatusCode: 200, Reason: "OK", ContentLength: 19, NoBody: true, Close: true},
	}, {
		name:   "head chunked",
		method: "HEAD",
		input:  gcpHead,
		want:   Response{StatusCode: 200, Reason: "OK", ContentLength: -1, Chunked: true, NoBody: true},
	}, {
		name:  "204 whatever its content-length",
		input: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		want:  Response{StatusCode: 204, Reason: "No Content", ContentLength: 0, NoBody: true},
	}, {
		name:  "304",
		input: "HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
		want:  Response{StatusCode: 304, Reason: "Not Modified", ContentLength: 0, NoBody: true},
	}, {
		name:  "no length: until close",
		input: "HTTP/1.1 200 OK\r\n\r\nall of it",
		body:  "all of it",
		want:  Response{StatusCode: 200, Reason: "OK", ContentLength: -1, Close: true},
	}, {
		name:  "http/1.0 keep-alive, no reason",
		input: "HTTP/1.0 200\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
		body:  "ok",
		want:  Response{StatusCode: 200, ContentLength: 2},
	}, {
		name:  "http/1.0 closes",
		input: "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
		want:  Response{StatusCode: 404, Reason: "Not Found", ContentLength: 0, Close: true},
	}, {
		name:  "equal content-lengths, lower-case names",
		input: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nCONTENT-LENGTH:  2 \r\n\r\nok",
		body:  "ok",
		want:  Response{StatusCode: 200, Reason: "OK", ContentLength: 2},
	},
		{name: "100 continue", input: "HTTP/1.1 100 Continue\r\n\r\n", wantErr: "interim response 100"},
		{name: "101", input: "HTTP/1.1 101 Switching Protocols\r\n\r\n", wantErr: "interim response 101"},
		{name: "http/2", input: "HTTP/2.0 200 OK\r\n\r\n", wantErr: "malformed status line"},
		{name: "http/1.2", input: "HTTP/1.2 200 OK\r\n\r\n", wantErr: "unsupported protocol version"},
		{name: "two-digit status", input: "HTTP/1.1 20 OK\r\n\r\n", wantErr: "malformed status"},
		{name: "four-digit status", input: "HTTP/1.1 2000 OK\r\n\r\n", wantErr: "malformed status code"},
		{name: "status 600", input: "HTTP/1.1 600 X\r\n\r\n", wantErr: "out of range"},
		{name: "leading CRLF", input: "\r\nHTTP/1.1 200 OK\r\n\r\n", wantErr: "malformed status line"},
		{name: "bare LF", input: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", wantErr: "bare LF"},
		{name: "obs-fold", input: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", wantErr: "obsolete line folding"},
		{name: "space before colon", input: "HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n", wantErr: `invalid header name "X-A "`},
		{name: "no colon", input: "HTTP/1.1 200 OK\r\nX-A\r\n\r\n", wantErr: "without colon"},
		{name: "control byte", input: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", wantErr: "invalid byte in value"},
		{name: "bare CR", input: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", wantErr: "invalid byte in value"},
		{name: "differing content-lengths", input: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", wantErr: "differing content-length"},
		{name: "bad content-length", input: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", wantErr: "malformed content-length"},
		{name: "empty content-length", input: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", wantErr: "empty content-length"},
		{name: "huge content-length", input: "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", wantErr: "too large"},
		{name: "te and cl", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", wantErr: "both transfer-encoding and content-length"},
		{name: "gzip te", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", wantErr: "unsupported transfer-encoding"},
		{name: "two te", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: "unsupported transfer-encoding"},
		{name: "te in http/1.0", input: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantErr: "HTTP/1.0"},
		{name: "trailer names content-length", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x, content-length\r\n\r\n", wantErr: "trailer header names Content-Length"},
		{name: "too long", input: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", MaxResponseHead) + "\r\n\r\n", wantErr: "longer than"},
		{name: "bad chunk size", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n", wantErr: "malformed chunk size line"},
		{name: "space before chunk extension", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 ;a\r\nabc\r\n0\r\n\r\n", wantErr: "malformed chunk size line"},
		{name: "17 hex digits", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\n", wantErr: "too large"},
		{name: "chunk without CRLF", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", wantErr: "not followed by CRLF"},
		{name: "chunk line bare LF", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", wantErr: "bare LF"},
		{name: "bad trailer", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX A: b\r\n\r\n", wantErr: "trailer: invalid header name"},
		{name: "tiny chunks, long extensions", input: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strings.Repeat("1;"+strings.Repeat("e", 500)+"\r\na\r\n", 40) + "0\r\n\r\n", wantErr: "too much framing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			d, err := decodeWhole([]byte(tt.input), method)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Header == nil {
				d.resp.Header = nil
			}
			if diff := cmp.Diff(d.resp, tt.want); diff != "" {
				t.Errorf("response (-got +want):\n%s", diff)
			}
			if string(d.body) != tt.body {
				t.Errorf("body %q, want %q", d.body, tt.body)
			}
			if rest := tt.input[d.consumed:]; rest != tt.rest {
				t.Errorf("left %q, want %q", rest, tt.rest)
			}
			// Every table case that we accept, net/http reads the same way.
			checkNetHTTP(t, []byte(tt.input), method, rand.New(rand.NewPCG(1, 2)))
		})
	}
}

// TestParseResponseReusesHeader checks the caller's map is cleared, not
// replaced, and no header of the previous response is left.
func TestParseResponseReusesHeader(t *testing.T) {
	var r Response
	if _, err := ParseResponse([]byte(gcpHead), "GET", &r); err != nil {
		t.Fatal(err)
	}
	h := r.Header
	if _, err := ParseResponse([]byte(aws401), "GET", &r); err != nil {
		t.Fatal(err)
	}
	h["X-Probe"] = []string{"1"}
	if r.Header["X-Probe"] == nil {
		t.Error("the header map was replaced, not reused")
	}
	if r.Header["Metadata-Flavor"] != nil || r.Chunked {
		t.Errorf("previous response left in %+v", r)
	}
}

func TestParseResponseIncomplete(t *testing.T) {
	for _, head := range []string{awsHead, aws401, gcpHead, azureHead} {
		for i := range len(head) {
			var r Response
			if _, err := ParseResponse([]byte(head[:i]), "GET", &r); err != ErrIncomplete {
				t.Fatalf("prefix %q: error %v, want ErrIncomplete", head[:i], err)
			}
		}
		var r Response
		if n, err := ParseResponse([]byte(head+"HTTP/1.1 200 OK\r\n"), "GET", &r); n != len(head) || err != nil {
			t.Fatalf("whole head %q: %d, %v; want %d, nil", head, n, err, len(head))
		}
	}
}

// TestParseResponseEarlyError checks a malformed status line is refused
// before the head is whole.
func TestParseResponseEarlyError(t *testing.T) {
	var r Response
	if _, err := ParseResponse([]byte("HTTP/1.1 99 X\r\nContent-Le"), "GET", &r); err == nil || err == ErrIncomplete {
		t.Fatalf("error %v, want a malformed status code", err)
	}
}

// TestChunkedDecodeBytewise feeds a chunked body one byte at a time, never
// passing again what was consumed: the decoder must hold its state itself.
func TestChunkedDecodeBytewise(t *testing.T) {
	in := []byte("4;a=b\r\nabcd\r\n10  \r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\nnext")
	var c Chunked
	var out, pending []byte
	consumed := 0
	for i := range in {
		pending = append(pending, in[i])
		var k int
		var done bool
		var err error
		out, k, done, err = c.Decode(pending, out)
		if err != nil {
			t.Fatalf("at byte %d: %v", i, err)
		}
		consumed += k
		pending = pending[k:]
		if done {
			break
		}
	}
	if string(out) != "abcd0123456789abcdef" || string(in[consumed:]) != "next" {
		t.Fatalf("got %q, left %q", out, in[consumed:])
	}
	// Done stays done, consuming nothing more; Reset starts a new body.
	if _, k, done, err := c.Decode([]byte("next"), nil); k != 0 || !done || err != nil {
		t.Fatalf("after the end: %d, %v, %v", k, done, err)
	}
	c.Reset()
	if out, k, done, err := c.Decode([]byte("1\r\nz\r\n0\r\n\r\n"), nil); string(out) != "z" || k != 11 || !done || err != nil {
		t.Fatalf("after Reset: %q, %d, %v, %v", out, k, done, err)
	}
}

// gen makes responses like the metadata services', then mutated.
type gen struct{ rng *rand.Rand }

type genBase struct {
	status string
	fields []string
	body   string
}

var genBases = []genBase{
	{"HTTP/1.1 200 OK", []string{"Content-Type: text/plain", "Accept-Ranges: none", "Last-Modified: Tue, 10 Nov 2026 08:01:02 GMT", "Date: Sun, 22 Nov 2026 12:00:00 GMT", "Server: EC2ws", "Connection: close"}, awsBody},
	{"HTTP/1.1 401 Unauthorized", []string{"Date: Sun, 22 Nov 2026 12:00:00 GMT", "Server: EC2ws", "Connection: close", "Content-Type: text/plain"}, ""},
	{"HTTP/1.1 200 OK", []string{"X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600", "Content-Type: text/plain", "Server: EC2ws"}, "AQAEAFTe0j0u0vxCz5t6BZ1lK1Vv0Bn2yQw8s7x0JtQ9-example=="},
	{"HTTP/1.1 200 OK", []string{"Metadata-Flavor: Google", "Content-Type: application/text", "ETag: 1a2b3c4d5e6f", "Server: Metadata Server for VM", "X-XSS-Protection: 0"}, "projects/123456789/zones/europe-west1-b"},
	{"HTTP/1.1 200 OK", []string{"Content-Type: application/json; charset=utf-8", "Server: Microsoft-IIS/10.0", "Date: Sun, 22 Nov 2026 12:00:00 GMT"}, azureBody},
	{"HTTP/1.1 404 Not Found", []string{"Content-Type: text/html", "Server: EC2ws"}, "<html>not found</html>"},
	{"HTTP/1.0 200 OK", []string{"Content-Type: text/plain", "Connection: keep-alive"}, "i-0123456789abcdef0"},
}

var (
	genStatus = []string{"HTTP/1.1 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified", "HTTP/1.0 200 OK", "HTTP/1.1 100 Continue",
		"HTTP/1.1 101 Switching", "HTTP/1.1 200", "HTTP/1.1 200 ", "HTTP/1.1  200 OK", "HTTP/1.2 200 OK", "HTTP/2.0 200 OK", "HTTP/1.1 099 X",
		"HTTP/1.1 +20 X", "HTTP/1.1 2000 X", "http/1.1 200 OK", "HTTP/1.1 600 X", "HTTP/1.1 500 Internal\tError", "HTTP/1.1 200 \x80K", "HTTP/1.10 200 OK"}
	genFields = []string{"Content-Length: 0", "Content-Length: 5", "Content-Length: -1", "Content-Length: +5", "Content-Length:", "Content-Length: 5, 5",
		"Content-Length: 0x5", "Content-Length: 99999999999999999999", "Content-Length:  5 ", "content-length: 5",
		"Transfer-Encoding: chunked", "Transfer-Encoding: Chunked", "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: identity",
		"Transfer-Encoding: chunked, identity", "Transfer-Encoding:", "transfer-encoding: chunked ",
		"Connection: close", "Connection: keep-alive", "Connection: Keep-Alive, Upgrade", "Connection: foo, close",
		"Trailer: X-Sum", "Trailer: Content-Length", "Trailer: x, transfer-encoding", "Pragma: no-cache", "Cache-Control: max-age=0",
		" folded", "\tfolded", "Bad Name: x", "X-A:\x01", "X-A: \x7f", "X-A: caf\xc3\xa9", "X_U: y", "x-lower: z", ": empty name", "NoColon",
		"Metadata-Flavor: Google", "Set-Cookie: a=b", "Set-Cookie: c=d", "X-A:a", "X-A: \t padded \t"}
	genBytes = []byte{'\r', '\n', ' ', '\t', ':', ';', ',', '0', '1', 'a', 'f', 'g', 'x', 'F', '-', 0, 0x7f, 0x80, 0xff}
)

// response returns one generated input and the method to read it for.
func (g gen) response() ([]byte, string) {
	r := g.rng
	b := genBases[r.IntN(len(genBases))]
	status, body := b.status, b.body
	fields := append([]string(nil), b.fields...)
	if r.IntN(8) == 0 {
		status = genStatus[r.IntN(len(genStatus))]
	}

	// Framing: mostly right, sometimes odd.
	chunked := false
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		fields = append(fields, fmt.Sprintf("Content-Length: %d", len(body)))
	case 4, 5, 6:
		fields = append(fields, "Transfer-Encoding: chunked")
		chunked = true
	case 7:
		fields = append(fields, fmt.Sprintf("Content-Length: %d", len(body)+r.IntN(5)-2))
	case 8:
		fields = append(fields, "Transfer-Encoding: chunked", fmt.Sprintf("Content-Length: %d", len(body)))
		chunked = true
	case 9: // no length
	}
	for range r.IntN(3) {
		switch r.IntN(3) {
		case 0:
			fields = append(fields, genFields[r.IntN(len(genFields))])
		case 1:
			if len(fields) > 0 {
				fields = append(fields, fields[r.IntN(len(fields))])
			}
		case 2:
			if len(fields) > 0 {
				i := r.IntN(len(fields))
				fields = append(fields[:i], fields[i+1:]...)
			}
		}
	}
	r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })

	var in []byte
	in = append(in, status...)
	in = append(in, "\r\n"...)
	for _, f := range fields {
		in = append(in, f...)
		in = append(in, "\r\n"...)
	}
	in = append(in, "\r\n"...)
	if chunked || r.IntN(10) == 0 {
		in = g.chunks(in, body)
	} else {
		in = append(in, body...)
	}

	for range r.IntN(4) {
		in = g.mutate(in)
	}
	if r.IntN(4) == 0 { // a next response, or garbage
		if r.IntN(2) == 0 {
			in = append(in, aws401...)
		} else {
			in = append(in, "xyz\r\n"...)
		}
	}
	if r.IntN(10) == 0 && len(in) > 0 {
		in = in[:r.IntN(len(in))]
	}
	method := "GET"
	switch r.IntN(10) {
	case 0:
		method = "HEAD"
	case 1:
		method = "PUT"
	}
	return in, method
}

// chunks appends body chunked at random sizes, with odd sizes, extensions
// and trailers now and then.
func (g gen) chunks(in []byte, body string) []byte {
	r := g.rng
	for len(body) > 0 {
		n := 1 + r.IntN(len(body))
		switch r.IntN(12) {
		case 0:
			in = fmt.Appendf(in, "%X", n)
		case 1:
			in = fmt.Appendf(in, "%04x", n)
		case 2:
			in = fmt.Appendf(in, "%x;name=value", n)
		case 3:
			in = fmt.Appendf(in, "%x ; bad", n)
		case 4:
			in = fmt.Appendf(in, "%x  ", n)
		case 5:
			in = fmt.Appendf(in, "%xg", n)
		case 6:
			in = fmt.Appendf(in, "%017x", n)
		default:
			in = fmt.Appendf(in, "%x", n)
		}
		in = append(in, "\r\n"...)
		in = append(in, body[:n]...)
		body = body[n:]
		switch r.IntN(20) {
		case 0: // missing CRLF
		case 1:
			in = append(in, '\n')
		default:
			in = append(in, "\r\n"...)
		}
	}
	in = append(in, []string{"0", "000", "0;last", "0 "}[r.IntN(4)]...)
	in = append(in, "\r\n"...)
	switch r.IntN(6) {
	case 0:
		in = append(in, "X-Sum: 123\r\n"...)
	case 1:
		in = append(in, "X-Sum: 1\r\nX-Other: 2\r\n"...)
	case 2:
		in = append(in, " X-Sum: 1\r\n"...)
	}
	return append(in, "\r\n"...)
}

// mutate changes, inserts or removes a byte, or removes a span.
func (g gen) mutate(in []byte) []byte {
	r := g.rng
	if len(in) == 0 {
		return in
	}
	i := r.IntN(len(in))
	switch r.IntN(4) {
	case 0:
		in[i] = genBytes[r.IntN(len(genBytes))]
	case 1:
		in = append(in[:i], append([]byte{genBytes[r.IntN(len(genBytes))]}, in[i:]...)...)
	case 2:
		in = append(in[:i], in[i+1:]...)
	case 3:
		j := min(len(in), i+1+r.IntN(8))
		in = append(in[:i], in[j:]...)
	}
	return in
}

// TestResponseMatchesNetHTTP reads generated responses with ours and with
// net/http (see checkNetHTTP).
func TestResponseMatchesNetHTTP(t *testing.T) {
	const cases = 100_000
	rng := rand.New(rand.NewPCG(2026, 11))
	g := gen{rng}
	var counts [3]int
	why := map[string]int{}
	for range cases {
		in, method := g.response()
		v, err := checkNetHTTP(t, in, method, rng)
		counts[v]++
		if v == onlyWeRefuse {
			why[errorKind(err)]++
		}
	}
	t.Logf("%d cases: both accept %d, both refuse %d, only we refuse %d", cases, counts[respBothAccept], counts[respBothRefuse], counts[onlyWeRefuse])
	for _, k := range slices.Sorted(maps.Keys(why)) {
		t.Logf("  only we refuse, %5d: %s", why[k], k)
	}
	// The generator must exercise all three outcomes in earnest.
	for v, n := range counts {
		if n < cases/100 {
			t.Errorf("outcome %d in only %d cases", v, n)
		}
	}
}

// errorKind is an error's message without its quoted detail, to count
// errors by kind.
func errorKind(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, `"[`); i >= 0 {
		s = s[:i]
	}
	return s
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{awsHead + awsBody, aws401, gcpHead + gcpBody, azureHead + azureBody,
		"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nbody",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;x\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		checkNetHTTP(t, in, method, rand.New(rand.NewPCG(uint64(len(in)), 1)))
	})
}

func BenchmarkParseResponse(b *testing.B) {
	in := []byte(awsHead + awsBody)
	var r Response
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseResponse(in, "GET", &r); err != nil {
			b.Fatal(err)
		}
	}
}
