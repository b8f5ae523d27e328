package wire

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// realistic are request heads as metadata clients send them.
var realistic = []struct {
	name string
	head string
	want Request
}{{
	name: "curl",
	head: "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
	want: Request{Method: "GET", Target: "/latest/meta-data/instance-id", Host: "169.254.169.254",
		Header:     http.Header{"User-Agent": {"curl/8.5.0"}, "Accept": {"*/*"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "go http.Client",
	head: "GET /computeMetadata/v1/instance/id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: Go-http-client/1.1\r\nMetadata-Flavor: Google\r\nAccept-Encoding: gzip\r\n\r\n",
	want: Request{Method: "GET", Target: "/computeMetadata/v1/instance/id", Host: "169.254.169.254",
		Header:     http.Header{"User-Agent": {"Go-http-client/1.1"}, "Metadata-Flavor": {"Google"}, "Accept-Encoding": {"gzip"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "botocore token PUT",
	head: "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept-Encoding: identity\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nUser-Agent: Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0\r\nContent-Length: 0\r\n\r\n",
	want: Request{Method: "PUT", Target: "/latest/api/token", Host: "169.254.169.254",
		Header: http.Header{"Accept-Encoding": {"identity"}, "X-Aws-Ec2-Metadata-Token-Ttl-Seconds": {"21600"},
			"User-Agent":     {"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0"},
			"Content-Length": {"0"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "botocore credentials GET",
	head: "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept-Encoding: identity\r\nX-aws-ec2-metadata-token: AQAEAFake-Token_0123456789abcdef==\r\nUser-Agent: Botocore/1.34.0\r\n\r\n",
	want: Request{Method: "GET", Target: "/latest/meta-data/iam/security-credentials/", Host: "169.254.169.254",
		Header: http.Header{"Accept-Encoding": {"identity"}, "X-Aws-Ec2-Metadata-Token": {"AQAEAFake-Token_0123456789abcdef=="},
			"User-Agent": {"Botocore/1.34.0"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "google-auth",
	head: "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\nHost: metadata.google.internal\r\nUser-Agent: python-requests/2.31.0\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: keep-alive\r\nmetadata-flavor: Google\r\nx-goog-api-client: gl-python/3.11.4 auth/2.23.0 auth-request-type/at cred-type/mds\r\n\r\n",
	want: Request{Method: "GET", Target: "/computeMetadata/v1/instance/service-accounts/default/token", Host: "metadata.google.internal",
		Header: http.Header{"User-Agent": {"python-requests/2.31.0"}, "Accept-Encoding": {"gzip, deflate"}, "Accept": {"*/*"},
			"Connection": {"keep-alive"}, "Metadata-Flavor": {"Google"},
			"X-Goog-Api-Client": {"gl-python/3.11.4 auth/2.23.0 auth-request-type/at cred-type/mds"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "azure sdk",
	head: "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\nUser-Agent: azsdk-python-identity/1.15.0 Python/3.11.4 (Linux-6.5.0-x86_64-with-glibc2.35)\r\nAccept: */*\r\nConnection: keep-alive\r\nx-ms-client-request-id: 1c7e8a10-1234-11ee-8c99-0242ac120002\r\n\r\n",
	want: Request{Method: "GET", Target: "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
		Host: "169.254.169.254",
		Header: http.Header{"Metadata": {"true"}, "User-Agent": {"azsdk-python-identity/1.15.0 Python/3.11.4 (Linux-6.5.0-x86_64-with-glibc2.35)"},
			"Accept": {"*/*"}, "Connection": {"keep-alive"}, "X-Ms-Client-Request-Id": {"1c7e8a10-1234-11ee-8c99-0242ac120002"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "azure instance metadata",
	head: "GET /metadata/instance/compute?api-version=2021-02-01&format=json HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\nConnection: close\r\n\r\n",
	want: Request{Method: "GET", Target: "/metadata/instance/compute?api-version=2021-02-01&format=json", Host: "169.254.169.254",
		Header:     http.Header{"Metadata": {"true"}, "Connection": {"close"}},
		ProtoMajor: 1, ProtoMinor: 1, Close: true},
}, {
	name: "wget HTTP/1.0 keep-alive",
	head: "GET /latest/meta-data/ HTTP/1.0\r\nUser-Agent: Wget/1.21.4\r\nAccept: */*\r\nHost: 169.254.169.254\r\nConnection: Keep-Alive\r\n\r\n",
	want: Request{Method: "GET", Target: "/latest/meta-data/", Host: "169.254.169.254",
		Header:     http.Header{"User-Agent": {"Wget/1.21.4"}, "Accept": {"*/*"}, "Connection": {"Keep-Alive"}},
		ProtoMajor: 1, ProtoMinor: 0},
}, {
	name: "HTTP/1.0 without Host closes",
	head: "GET /latest/meta-data/ HTTP/1.0\r\n\r\n",
	want: Request{Method: "GET", Target: "/latest/meta-data/", Header: http.Header{}, ProtoMajor: 1, ProtoMinor: 0, Close: true},
}, {
	name: "absolute-form through a proxy setting",
	head: "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nProxy-Connection: Keep-Alive\r\n\r\n",
	want: Request{Method: "GET", Target: "http://169.254.169.254/latest/meta-data/", Host: "169.254.169.254",
		Header:     http.Header{"User-Agent": {"curl/8.5.0"}, "Proxy-Connection": {"Keep-Alive"}},
		ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "chunked PUT with Expect",
	head: "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
	want: Request{Method: "PUT", Target: "/latest/api/token", Host: "169.254.169.254",
		Header:        http.Header{"Expect": {"100-continue"}},
		ContentLength: -1, TransferEncoding: []string{"chunked"}, ProtoMajor: 1, ProtoMinor: 1},
}, {
	name: "repeated equal Content-Length, Pragma, repeated header, blanks",
	head: "POST /x HTTP/1.1\r\nHost:\t169.254.169.254 \r\nContent-Length: 5\r\ncontent-length:5 \r\nPragma: no-cache\r\nX-A: 1\r\nx-a:  2\r\nX-Empty:\r\n\r\n",
	want: Request{Method: "POST", Target: "/x", Host: "169.254.169.254",
		Header: http.Header{"Content-Length": {"5"}, "Pragma": {"no-cache"}, "Cache-Control": {"no-cache"},
			"X-A": {"1", "2"}, "X-Empty": {""}},
		ContentLength: 5, ProtoMajor: 1, ProtoMinor: 1},
}}

func TestParseRequestAccepts(t *testing.T) {
	for _, tc := range realistic {
		t.Run(tc.name, func(t *testing.T) {
			var got Request
			// Bytes after the head are another request's: left alone.
			buf := []byte(tc.head + "GET /next HTTP/1.1\r\n")
			n, err := ParseRequest(buf, &got)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if n != len(tc.head) {
				t.Errorf("head length %d, want %d", n, len(tc.head))
			}
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseRequestReusesHeader(t *testing.T) {
	r := Request{Header: http.Header{}}
	h := r.Header
	if _, err := ParseRequest([]byte(realistic[0].head), &r); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Only: 1\r\n\r\n"), &r); err != nil {
		t.Fatal(err)
	}
	h["Probe"] = nil
	if _, ok := r.Header["Probe"]; !ok {
		t.Error("ParseRequest replaced the caller's Header map")
	}
	delete(h, "Probe")
	if d := cmp.Diff(http.Header{"X-Only": {"1"}}, r.Header); d != "" {
		t.Errorf("header of the second request (-want +got):\n%s", d)
	}
}

// refusals are heads refused before any policy, with the status to answer.
var refusals = []struct {
	name   string
	head   string
	status int
}{
	{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
	{"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
	{"invalid Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400},
	{"extra space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"empty request line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"invalid method", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT", "CONNECT 169.254.169.254:80 HTTP/1.1\r\nHost: 169.254.169.254:80\r\n\r\n", 501},
	{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"relative target", "GET latest HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"bad escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"NUL in target", "GET /a\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"absolute-form with userinfo", "GET http://u@169.254.169.254/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"absolute-form without host", "GET http:///latest HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"other scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
	{"bare LF after headers", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
	{"bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
	{"leading space on first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A b\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
	{"invalid name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x7fc\r\n\r\n", 400},
	{"different Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
	{"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
	{"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400},
	{"huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
	{"list Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400},
	{"gzip Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
	{"chunked list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	{"chunked and Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
	{"chunked with Trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-A\r\n\r\n", 400},
	{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
	{"Expect other", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417},
	{"Expect twice", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n", 417},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
	{"TLS client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
}

func TestParseRequestRefuses(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			n, err := ParseRequest([]byte(tc.head), &r)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseRequest = %d, %v; want a refusal with status %d", n, err, tc.status)
			}
			if e.Status != tc.status {
				t.Errorf("status %d (%s), want %d", e.Status, e.Reason, tc.status)
			}
		})
	}
}

func TestParseRequestIncomplete(t *testing.T) {
	for _, tc := range realistic {
		for i := 0; i < len(tc.head); i++ {
			var r Request
			n, err := ParseRequest([]byte(tc.head[:i]), &r)
			if err != ErrIncomplete {
				t.Fatalf("%s: prefix of %d bytes %q: ParseRequest = %d, %v; want ErrIncomplete", tc.name, i, tc.head[:i], n, err)
			}
		}
	}
}

func TestParseRequestTooLarge(t *testing.T) {
	start := "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
	end := "\r\n\r\n"

	// A head of exactly MaxHead bytes is accepted.
	exact := start + strings.Repeat("a", MaxHead-len(start)-len(end)) + end
	var r Request
	if n, err := ParseRequest([]byte(exact), &r); err != nil || n != MaxHead {
		t.Errorf("head of MaxHead bytes: ParseRequest = %d, %v; want %d, nil", n, err, MaxHead)
	}

	for _, tc := range []struct {
		name string
		buf  string
	}{
		{"MaxHead+1 bytes without end", start + strings.Repeat("a", MaxHead+1-len(start))},
		{"MaxHead bytes without end", start + strings.Repeat("a", MaxHead-len(start))},
		{"end one byte too late", start + strings.Repeat("a", MaxHead+1-len(start)-len(end)) + end},
	} {
		_, err := ParseRequest([]byte(tc.buf), &r)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: ParseRequest error %v, want status 431", tc.name, err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte("GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
	r := Request{Header: http.Header{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := ParseRequest(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}
