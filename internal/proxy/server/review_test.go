package server

import (
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/wire"
)

// These tests come from an adversarial review of the loop and the parser:
// what a pod could try to get a request, a path or a header past the
// policy to the metadata service.

// seen is a request as the service read it.
type seen struct {
	method, uri, host string
	header            http.Header
}

// recordingUpstream keeps what the service read and answers the nth
// request "ok", or hangs up when hangUp(n) says so (hangUp may be nil).
func recordingUpstream(t *testing.T, hangUp func(n int) bool) (*rawUpstream, func() []seen) {
	var mu sync.Mutex
	var got []seen
	u := startRawUpstream(t, "127.0.0.1:0", func(_ *rawUpstream, n int, r *http.Request) (string, bool) {
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Host, r.Header.Clone()})
		mu.Unlock()
		if hangUp != nil && hangUp(n) {
			return "", true
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	return u, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// readAll reads answers until the proxy closes the connection, and
// returns how many were 200s from the service.
func readAll(t *testing.T, c *conn, method string) (ok int) {
	t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF && !strings.Contains(err.Error(), "connection reset") {
				t.Fatalf("reading answers: %v", err)
			}
			return ok
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && resp.Header.Get(MarkerHeader) == "" {
			ok++
		}
	}
}

// TestReviewNothingSmuggledUpstream: whatever a pod sends, and however it
// splits it across reads, the service reads only the requests the policy
// allowed, in canonical form: no second request hidden in a body or a
// header, no header but the forwarded ones, the service's own Host.
func TestReviewNothingSmuggledUpstream(t *testing.T) {
	u, requests := recordingUpstream(t, nil)
	f := startFront(t, "127.0.0.1:0", u.addr, nil)
	const host = "Host: " + imdsHost + "\r\n"
	smuggled := "GET " + userData + " HTTP/1.1\r\n" + host + "\r\n"
	cl := "Content-Length: " + strconv.Itoa(len(smuggled))
	payloads := map[string]string{
		"CL and TE":               request("GET", instanceID, cl, "Transfer-Encoding: chunked") + "0\r\n\r\n" + smuggled,
		"TE folded":               request("GET", instanceID, "Transfer-Encoding:", " chunked") + "0\r\n\r\n" + smuggled,
		"TE list":                 request("GET", instanceID, "Transfer-Encoding: chunked, identity") + "0\r\n\r\n" + smuggled,
		"TE space before colon":   request("GET", instanceID, "Transfer-Encoding : chunked") + "0\r\n\r\n" + smuggled,
		"TE on HTTP/1.0":          "GET " + instanceID + " HTTP/1.0\r\n" + host + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"two lengths":             request("GET", instanceID, "Content-Length: 0", cl) + smuggled,
		"length with sign":        request("GET", instanceID, "Content-Length: +"+strconv.Itoa(len(smuggled))) + smuggled,
		"body behind Expect":      request("GET", instanceID, "Expect: 100-continue", cl) + smuggled,
		"HTTP/1.0 body":           "GET " + instanceID + " HTTP/1.0\r\n" + host + "Connection: keep-alive\r\n" + cl + "\r\n\r\n" + smuggled,
		"bare CR in a value":      request("GET", instanceID, "X-Aws-Ec2-Metadata-Token: a\rX-Injected: yes"),
		"bare LF in a value":      request("GET", instanceID, "X-Aws-Ec2-Metadata-Token: a\nX-Injected: yes"),
		"NUL in a value":          request("GET", instanceID, "User-Agent: a\x00X-Injected: yes"),
		"CR in the target":        "GET " + instanceID + "\rX-Injected: yes HTTP/1.1\r\n" + host + "\r\n",
		"encoded CRLF in path":    request("GET", instanceID+"%0d%0aX-Injected:%20yes"),
		"encoded CRLF in query":   request("GET", instanceID+"?x=%0d%0aX-Injected:%20yes"),
		"absolute-form user-data": "GET http://" + imdsHost + userData + " HTTP/1.1\r\n" + host + "\r\n",
		"absolute-form elsewhere": "GET http://example.com" + instanceID + " HTTP/1.1\r\n" + host + "\r\n",
		"two hosts":               "GET " + instanceID + " HTTP/1.1\r\n" + host + "Host: example.com\r\n\r\n",
		"leading CRLF":            "\r\n" + request("GET", instanceID),
		"hop-by-hop headers":      request("GET", instanceID, "Connection: X-Injected, keep-alive", "X-Injected: yes", "Upgrade: h2c", "Te: trailers", "Proxy-Authorization: x", "X-Forwarded-Host: evil"),
		"refused then smuggled":   request("GET", roleCreds) + smuggled,
		"chunked with trailer":    request("GET", instanceID, "Transfer-Encoding: chunked", "Trailer: X-Injected") + "0\r\nX-Injected: yes\r\n\r\n" + smuggled,
	}
	// The headers the services read, spelled out rather than taken from
	// forwardedHeaders, so that a change there fails here.
	allowed := map[string]bool{"Metadata-Flavor": true, "Metadata": true, "X-Aws-Ec2-Metadata-Token": true,
		"X-Aws-Ec2-Metadata-Token-Ttl-Seconds": true, "Accept": true, "User-Agent": true}
	for name, p := range payloads {
		for _, split := range []bool{false, true} {
			before := len(requests())
			c := dialProxy(t, f.addr)
			// Every payload ends with an allowed request that closes the
			// connection, when the proxy gets that far.
			send := p + request("GET", instanceID, "Connection: close")
			if !split {
				c.write(send)
			} else {
				go func() {
					// A head split across reads: a few bytes at a time.
					for i := 0; i < len(send); i += 3 {
						if _, err := io.WriteString(c.c, send[i:min(i+3, len(send))]); err != nil {
							return
						}
						time.Sleep(50 * time.Microsecond)
					}
				}()
			}
			ok := readAll(t, c, "GET")
			got := requests()[before:]
			if len(got) != ok {
				t.Errorf("%s (split %v): the service read %d requests, the client got %d answers from it", name, split, len(got), ok)
			}
			for _, r := range got {
				if r.method != "GET" || r.uri != instanceID || r.host != u.addr {
					t.Errorf("%s (split %v): the service read %s %s (Host %s)", name, split, r.method, r.uri, r.host)
				}
				for k, vv := range r.header {
					if !allowed[k] || slices.ContainsFunc(vv, func(v string) bool { return strings.Contains(v, "Injected") }) {
						t.Errorf("%s (split %v): the service read header %s: %q", name, split, k, vv)
					}
				}
			}
		}
	}
}

// TestReviewHeadOfLargeAnswer: the answer to a HEAD has no body, so the
// length it announces is not bounded by maxResponseBytes: a HEAD of an
// answer that a GET would find too large is still answered, and the
// connection to the service is kept.
func TestReviewHeadOfLargeAnswer(t *testing.T) {
	length := strconv.Itoa(maxResponseBytes + 1)
	u := startRawUpstream(t, "127.0.0.1:0", func(_ *rawUpstream, _ int, r *http.Request) (string, bool) {
		if r.Method == "HEAD" {
			return "HTTP/1.1 200 OK\r\nContent-Length: " + length + "\r\n\r\n", false
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	f := startFront(t, "127.0.0.1:0", u.addr, nil)
	c := dialProxy(t, f.addr)
	c.write(request("HEAD", instanceID))
	resp, body := c.read("HEAD")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Length") != length {
		t.Fatalf("HEAD: status %d, Content-Length %q, body %q; want 200, %s and none", resp.StatusCode, resp.Header.Get("Content-Length"), body, length)
	}
	resp, body = c.get(instanceID)
	wantOK(t, "GET after the HEAD", resp, body, "ok")
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("%d connections to the service, want 1", n)
	}
}

// TestReviewPipelinedFloodWhileWaiting: a pod that sends more than a head's
// worth of bytes while its request is with the service neither grows the
// connection's buffer past a head nor loses the bytes the buffer could not
// take: its next request is answered, and the rest is refused as too long.
func TestReviewPipelinedFloodWhileWaiting(t *testing.T) {
	up, release := heldUpstream(t)
	f := startFront(t, "127.0.0.1:0", up, nil)
	c := dialProxy(t, f.addr)
	c.write(request("GET", instanceID))
	time.Sleep(50 * time.Millisecond)
	go func() { _, _ = io.WriteString(c.c, request("GET", region)+strings.Repeat("X", 64<<10)) }()
	time.Sleep(100 * time.Millisecond)
	close(release)
	resp, body := c.read("GET")
	wantOK(t, "first", resp, body, instanceID)
	resp, body = c.read("GET")
	wantOK(t, "second", resp, body, region)
	resp, _ = c.read("GET")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("the flood: status %d, want 431", resp.StatusCode)
	}
	c.closed(time.Second)
}

// TestReviewRetrySendsTheSameRequest: when a reused connection to the
// service closes before any answer, the request sent again on a fresh
// connection is the one the policy allowed, unchanged, and only once.
func TestReviewRetrySendsTheSameRequest(t *testing.T) {
	// The service closes the kept connection instead of answering the second.
	u, requests := recordingUpstream(t, func(n int) bool { return n == 2 })
	f := startFront(t, "127.0.0.1:0", u.addr, nil)
	c := dialProxy(t, f.addr)
	resp, body := c.get(instanceID)
	wantOK(t, "first", resp, body, "ok")
	c.write(request("HEAD", region, "X-Aws-Ec2-Metadata-Token: tok", "User-Agent: ua", "X-Other: no"))
	resp, body = c.read("HEAD")
	if resp.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD after the service dropped the kept connection: status %d, body %q", resp.StatusCode, body)
	}
	got := requests()
	if len(got) != 3 || u.accepted.Load() != 2 {
		t.Fatalf("the service read %d requests on %d connections, want 3 on 2 (one retry)", len(got), u.accepted.Load())
	}
	want := seen{"HEAD", region, u.addr, http.Header{"X-Aws-Ec2-Metadata-Token": {"tok"}, "User-Agent": {"ua"}}}
	for _, r := range got[1:] {
		if r.method != want.method || r.uri != want.uri || r.host != want.host || !equalHeader(r.header, want.header) {
			t.Errorf("the service read %+v, want %+v", r, want)
		}
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestReviewSlowHeadParsedOnce: a head that arrives a few bytes at a time
// costs the parser about its length, not its length once per read (a pod
// sending 16 KiB heads byte by byte on its 128 connections would otherwise
// keep several cores parsing).
func TestReviewSlowHeadParsedOnce(t *testing.T) {
	var parsed atomic.Int64
	t.Cleanup(func() { parseRequest = wire.ParseRequest })
	parseRequest = func(buf []byte, r *wire.Request) (int, error) {
		parsed.Add(int64(len(buf)))
		return wire.ParseRequest(buf, r)
	}
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil)
	c := dialProxy(t, f.addr)
	_ = c.c.(*net.TCPConn).SetNoDelay(true)
	head := request("GET", instanceID, strings.Repeat("A:b\r\n", 2000))
	for i := 0; i < len(head); i += 5 {
		c.write(head[i:min(i+5, len(head))])
		time.Sleep(20 * time.Microsecond)
	}
	resp, _ := c.read("GET")
	wantRefused(t, "2,000 headers", resp, proxy.RuleOversized)
	if n := parsed.Load(); n > 4*int64(len(head)) {
		t.Fatalf("the parser read %d bytes for a head of %d", n, len(head))
	}
}
