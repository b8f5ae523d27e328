package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// These tests drive the event loops over real loopback sockets: a client
// writing raw bytes, the proxy, and a metadata service that is either the
// AWS fake or a raw listener answering exactly the bytes a test chose.

const imdsHost = "169.254.169.254"

// front is a proxy Server on loopback in front of the service at upAddr.
type front struct {
	srv  *Server
	addr string
	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned, once done is closed
}

// startFront serves an AWS policy on listen ("127.0.0.1:0", "[::1]:0")
// with timeouts to (nil: the defaults), forwarding to upAddr. The Server is
// closed when the test ends.
func startFront(t testing.TB, listen, upAddr string, to *Timeouts, configure ...func(*Server)) *front {
	t.Helper()
	p, err := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	if err != nil {
		t.Fatal(err)
	}
	f := &front{srv: NewServer(New(p, WithUpstream(&url.URL{Scheme: "http", Host: upAddr}))), done: make(chan struct{})}
	f.srv.PlainWrites = plainWrites
	if to != nil {
		f.srv.Timeouts = *to
	}
	for _, c := range configure {
		c(f.srv)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("listening on %s: %v", listen, err)
	}
	f.addr = ln.Addr().String()
	go func() {
		f.err = f.srv.Serve(ln)
		close(f.done)
	}()
	t.Cleanup(func() {
		_ = f.srv.Close()
		if err := f.wait(t, 2*time.Second); err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return f
}

// wait waits for Serve to return, at most d.
func (f *front) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-f.done:
		return f.err
	case <-time.After(d):
		t.Fatalf("Serve did not return within %v", d)
		return nil
	}
}

// awsFake is the AWS fake on loopback; it returns the fake and its address.
func awsFake(t testing.TB) (*fakeimds.Server, string) {
	fake := fakeimds.New(endpoints.AWS, fakeimds.Options{})
	up := httptest.NewServer(fake)
	t.Cleanup(up.Close)
	return fake, up.Listener.Addr().String()
}

// handlerUpstream serves h on loopback and returns its address.
func handlerUpstream(t testing.TB, h http.HandlerFunc) string {
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	return up.Listener.Addr().String()
}

// rawUpstream is a metadata service that answers each request with the
// bytes its answer function returns, exactly as given.
type rawUpstream struct {
	addr     string
	accepted atomic.Int32
	requests atomic.Int32
	// peerClosed gets a value when the proxy closes a connection that the
	// service kept open after an answer.
	peerClosed chan struct{}
	stop       chan struct{} // closed when the test ends: hanging answers return
}

// startRawUpstream listens on listen; answer gets the request's number
// (from 1) and the request, and returns the bytes to send and whether to
// close the connection after them. It may block until u.stop is closed.
func startRawUpstream(t testing.TB, listen string, answer func(u *rawUpstream, n int, r *http.Request) (string, bool)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("listening on %s: %v", listen, err)
	}
	u := &rawUpstream{addr: ln.Addr().String(), peerClosed: make(chan struct{}, 100), stop: make(chan struct{})}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(u.stop)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						if errors.Is(err, io.EOF) {
							u.peerClosed <- struct{}{}
						}
						return
					}
					resp, closeIt := answer(u, int(u.requests.Add(1)), r)
					if _, err := io.WriteString(c, resp); err != nil || closeIt {
						return
					}
				}
			})
		}
	})
	return u
}

// conn is a client connection to the proxy.
type conn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialProxy(t testing.TB, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return &conn{t: t, c: c, br: bufio.NewReader(c)}
}

// request is a request head for path, with Host set and more header lines
// ("Key: value").
func request(method, path string, more ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + imdsHost + "\r\n")
	for _, h := range more {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func (c *conn) write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("writing to the proxy: %v", err)
	}
}

// read reads one answer to a request with method method.
func (c *conn) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, body, err := c.readErr(method)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, body
}

// readErr is read returning its error, for goroutines other than the
// test's (which may not fail the test).
func (c *conn) readErr(method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer to %s: %w", method, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, "", fmt.Errorf("reading the body of the answer to %s: %w", method, err)
	}
	return resp, string(b), nil
}

// tryGet is get returning its error, for goroutines other than the test's.
func (c *conn) tryGet(path string) (*http.Response, string, error) {
	if _, err := io.WriteString(c.c, request("GET", path)); err != nil {
		return nil, "", fmt.Errorf("writing to the proxy: %w", err)
	}
	return c.readErr("GET")
}

// get sends one GET and reads its answer.
func (c *conn) get(path string) (*http.Response, string) {
	c.t.Helper()
	c.write(request("GET", path))
	return c.read("GET")
}

// closed waits for the proxy to close the connection, at most within, and
// returns how long that took. Any byte the proxy sends meanwhile fails.
func (c *conn) closed(within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	_ = c.c.SetReadDeadline(start.Add(within))
	b, err := io.ReadAll(c.br)
	took := time.Since(start)
	if len(b) > 0 {
		c.t.Fatalf("the proxy sent %q where it should have closed the connection", b)
	}
	if err != nil {
		c.t.Fatalf("the connection was not closed within %v: %v", within, err)
	}
	return took
}

// wantOK checks a 200 from the service with body body.
func wantOK(t testing.TB, what string, resp *http.Response, got, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || got != body {
		t.Fatalf("%s: status %d, body %q; want 200 and %q", what, resp.StatusCode, got, body)
	}
	if _, refused := RefusedBy(resp); refused || resp.Header.Get(MarkerHeader) != "" {
		t.Fatalf("%s: an answer of the proxy's own (%s)", what, resp.Header.Get(MarkerHeader))
	}
}

// wantRefused checks the proxy's refusal by rule.
func wantRefused(t testing.TB, what string, resp *http.Response, rule proxy.Rule) {
	t.Helper()
	if got, refused := RefusedBy(resp); !refused || got != rule {
		t.Fatalf("%s: status %d, refused=%v by %q; want the proxy's refusal by %s", what, resp.StatusCode, refused, got, rule)
	}
}

// wantBadGateway checks the proxy's 502.
func wantBadGateway(t testing.TB, what string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(MarkerHeader) != MarkerUpstream {
		t.Fatalf("%s: status %d, marker %q; want 502 marked %s", what, resp.StatusCode, resp.Header.Get(MarkerHeader), MarkerUpstream)
	}
}

const (
	instanceID = "/latest/meta-data/instance-id"
	region     = "/latest/meta-data/placement/region"
	amiID      = "/latest/meta-data/ami-id"
	userData   = "/latest/user-data"
	roleCreds  = "/latest/meta-data/iam/security-credentials/node-role"
)

// TestPipelining: requests written together are answered in order, each
// with its own answer, whether forwarded or refused by the proxy itself.
func TestPipelining(t *testing.T) {
	fake, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil)

	type step struct {
		method, path string
		body         string     // for a 200
		rule         proxy.Rule // for a refusal
	}
	paths := []step{
		{"GET", instanceID, fakeimds.InstanceID, ""},
		{"GET", region, fakeimds.Region, ""},
		{"GET", userData, "", proxy.RuleAWSUserData},
		{"HEAD", amiID, "", ""},
		{"GET", amiID, fakeimds.AMIID, ""},
		{"GET", roleCreds, "", proxy.RuleAWSCredentials},
		{"GET", region, fakeimds.Region, ""},
		{"GET", instanceID, fakeimds.InstanceID, ""},
		{"GET", userData, "", proxy.RuleAWSUserData},
		{"GET", region, fakeimds.Region, ""},
	}
	check := func(c *conn, steps []step) {
		t.Helper()
		for i, s := range steps {
			resp, body := c.read(s.method)
			what := fmt.Sprintf("answer %d (%s %s)", i, s.method, s.path)
			switch {
			case s.rule != "":
				wantRefused(t, what, resp, s.rule)
			case s.method == "HEAD":
				if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(fakeimds.AMIID)) {
					t.Fatalf("%s: status %d, length %d, body %q", what, resp.StatusCode, resp.ContentLength, body)
				}
			default:
				wantOK(t, what, resp, body, s.body)
			}
		}
	}
	all := func(steps []step) string {
		var b strings.Builder
		for _, s := range steps {
			b.WriteString(request(s.method, s.path))
		}
		return b.String()
	}

	t.Run("two", func(t *testing.T) {
		c := dialProxy(t, f.addr)
		c.write(all(paths[:2]))
		check(c, paths[:2])
	})
	t.Run("ten", func(t *testing.T) {
		c := dialProxy(t, f.addr)
		before := fake.Requests()
		c.write(all(paths))
		check(c, paths)
		if n := fake.Requests() - before; n != 7 {
			t.Errorf("the service saw %d requests, want the 7 allowed", n)
		}
		// The connection still serves.
		resp, body := c.get(instanceID)
		wantOK(t, "after the pipeline", resp, body, fakeimds.InstanceID)
	})
	t.Run("byte by byte", func(t *testing.T) {
		c := dialProxy(t, f.addr)
		s := all(paths[:3])
		for i := range len(s) {
			c.write(s[i : i+1])
			if i%8 == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		check(c, paths[:3])
	})
	t.Run("while waiting", func(t *testing.T) {
		// The second request arrives while the first is with the service.
		slow, release := heldUpstream(t)
		f := startFront(t, "127.0.0.1:0", slow, nil)
		c := dialProxy(t, f.addr)
		c.write(request("GET", instanceID))
		time.Sleep(50 * time.Millisecond)
		c.write(request("GET", region))
		time.Sleep(50 * time.Millisecond)
		close(release)
		resp, body := c.read("GET")
		wantOK(t, "first", resp, body, instanceID)
		resp, body = c.read("GET")
		wantOK(t, "second", resp, body, region)
	})
}

// randomBytes returns n random bytes.
// heldUpstream answers each request with its path, and holds the answer
// for instance-id until release is closed.
func heldUpstream(t testing.TB) (addr string, release chan struct{}) {
	release = make(chan struct{})
	addr = handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == instanceID {
			<-release
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	return addr, release
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestLargeAnswer: a 3 MiB answer reaches a client that reads slowly
// intact (the loop writes it in many parts, waiting for the socket), and
// the connection serves again afterwards; answers over maxResponseBytes,
// however framed, are a 502.
func TestLargeAnswer(t *testing.T) {
	big := randomBytes(3 << 20)
	up := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == region {
			_, _ = io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write(big)
	})
	f := startFront(t, "127.0.0.1:0", up, nil)
	c := dialProxy(t, f.addr)
	// Three answers of 3 MiB asked for at once, and a pause before
	// reading: the socket's buffers cannot hold them all, so the loop must
	// wait for the client to read and go on where it stopped.
	c.write(strings.Repeat(request("GET", instanceID), 3))
	time.Sleep(200 * time.Millisecond)
	buf := make([]byte, 4<<10)
	for i := range 3 {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(big)) {
			t.Fatalf("answer %d: status %d, length %d; want 200 and %d", i, resp.StatusCode, resp.ContentLength, len(big))
		}
		var got bytes.Buffer
		for j := 0; ; j++ {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("answer %d, after %d bytes: %v", i, got.Len(), err)
			}
			if j%128 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if !bytes.Equal(got.Bytes(), big) {
			t.Fatalf("answer %d: got %d bytes that differ from the %d the service sent", i, got.Len(), len(big))
		}
	}
	resp, body := c.get(region)
	wantOK(t, "the next request on the connection", resp, body, "small")

	over := maxResponseBytes + 1
	overBody := strings.Repeat("x", over)
	cases := []struct {
		name   string
		answer string
		status int
	}{
		{"content-length at the limit", "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(maxResponseBytes) + "\r\n\r\n" + overBody[:maxResponseBytes], 200},
		{"content-length over", "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(over) + "\r\n\r\n" + overBody, 502},
		{"chunked over", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(over), 16) + "\r\n" + overBody + "\r\n0\r\n\r\n", 502},
		{"chunked over in small chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("10000\r\n"+overBody[:1<<16]+"\r\n", 65) + "0\r\n\r\n", 502},
		{"close-delimited over", "HTTP/1.0 200 OK\r\n\r\n" + overBody, 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := startRawUpstream(t, "127.0.0.1:0", func(*rawUpstream, int, *http.Request) (string, bool) { return tc.answer, true })
			f := startFront(t, "127.0.0.1:0", u.addr, nil)
			c := dialProxy(t, f.addr)
			resp, body := c.get(instanceID)
			if tc.status == 200 {
				if resp.StatusCode != 200 || len(body) != maxResponseBytes {
					t.Fatalf("status %d, %d bytes; want 200 and %d", resp.StatusCode, len(body), maxResponseBytes)
				}
				return
			}
			wantBadGateway(t, tc.name, resp)
		})
	}
}

// TestUpstreamFraming: however the service frames its answer, the client
// gets it framed by length with the same body; an answer that is not a
// complete final response is a 502. A connection to the service is reused
// only after an answer whose end was known without its closing.
func TestUpstreamFraming(t *testing.T) {
	cases := []struct {
		name   string
		method string
		answer string
		close  bool // the service closes the connection after answering
		// What the client gets: status (502 means the proxy's), body, and
		// Content-Length ("" for none).
		status int
		body   string
		length string
		// Whether the proxy keeps the connection to the service.
		reused bool
	}{
		{name: "content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			status: 200, body: "hello", length: "5", reused: true},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
			status: 200, body: "hello world", length: "11", reused: true},
		{name: "close-delimited", answer: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", close: true,
			status: 200, body: "until the end", length: "13"},
		{name: "close-delimited 1.1", answer: "HTTP/1.1 200 OK\r\n\r\nuntil the end", close: true,
			status: 200, body: "until the end", length: "13"},
		{name: "connection close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
			status: 200, body: "ok", length: "2"},
		{name: "http/1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
			status: 200, body: "ok", length: "2", reused: true},
		{name: "bytes past the length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
			status: 200, body: "ok", length: "2"},
		{name: "head", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			status: 200, length: "1234", reused: true},
		{name: "204", answer: "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
			status: 204, reused: true},
		{name: "304", answer: "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
			status: 304, length: "7", reused: true},
		{name: "404", answer: "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
			status: 404, body: "not found", length: "9", reused: true},
		{name: "interim 100", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 502},
		{name: "interim 103", answer: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 502},
		{name: "garbage", answer: "SSH-2.0-OpenSSH_9.6\r\n\r\n", status: 502},
		{name: "http/2 preface", answer: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 502},
		{name: "closed mid-body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close: true, status: 502},
		{name: "closed mid-chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort", close: true, status: 502},
		{name: "closed before the last chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", close: true, status: 502},
		{name: "closed mid-head", answer: "HTTP/1.1 200 OK\r\nContent-Le", close: true, status: 502},
		{name: "closed at once", answer: "", close: true, status: 502},
		{name: "bad chunk size", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", status: 502},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := cmpOr(tc.method, "GET")
			u := startRawUpstream(t, "127.0.0.1:0", func(_ *rawUpstream, _ int, r *http.Request) (string, bool) {
				if r.Method != method {
					return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", true
				}
				return tc.answer, tc.close
			})
			f := startFront(t, "127.0.0.1:0", u.addr, nil)
			c := dialProxy(t, f.addr)
			for i := range 2 {
				c.write(request(method, instanceID))
				resp, body := c.read(method)
				what := fmt.Sprintf("answer %d", i)
				if tc.status == 502 {
					wantBadGateway(t, what, resp)
					if n := u.requests.Load(); n != 1 {
						t.Fatalf("the service saw %d requests, want 1 (no retry once it answered)", n)
					}
					c.closed(time.Second)
					return
				}
				if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get(MarkerHeader) != "" {
					t.Fatalf("%s: status %d, body %q, marker %q; want %d and %q", what, resp.StatusCode, body, resp.Header.Get(MarkerHeader), tc.status, tc.body)
				}
				if got := resp.Header.Values("Content-Length"); tc.length == "" && len(got) != 0 || tc.length != "" && (len(got) != 1 || got[0] != tc.length) {
					t.Fatalf("%s: Content-Length %q, want %q", what, got, tc.length)
				}
				if len(resp.TransferEncoding) > 0 || resp.Close {
					t.Fatalf("%s: Transfer-Encoding %q, close %v", what, resp.TransferEncoding, resp.Close)
				}
			}
			want := int32(2)
			if tc.reused {
				want = 1
			}
			if n := u.accepted.Load(); n != want {
				t.Fatalf("%d connections to the service for 2 requests, want %d", n, want)
			}
			if !tc.reused && !tc.close {
				// The service kept its connections open; the proxy closed
				// both, having no use for them.
				for i := range 2 {
					select {
					case <-u.peerClosed:
					case <-time.After(time.Second):
						t.Fatalf("the proxy kept connection %d to the service open after an answer it cannot reuse", i+1)
					}
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestClientHangUpCancelsExchange: a client that goes away while the
// service holds its request takes the exchange down: the service sees its
// connection closed.
func TestClientHangUpCancelsExchange(t *testing.T) {
	started, canceled := make(chan struct{}, 1), make(chan struct{}, 1)
	up := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			canceled <- struct{}{}
		case <-time.After(5 * time.Second):
		}
	})
	f := startFront(t, "127.0.0.1:0", up, nil)
	c := dialProxy(t, f.addr)
	c.write(request("GET", instanceID))
	select {
	case <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("the request did not reach the service")
	}
	c.c.Close()
	select {
	case <-canceled:
	case <-time.After(time.Second):
		t.Fatal("the service's request was not canceled within 1s of the client hanging up")
	}
	// The loop goes on serving.
	c = dialProxy(t, f.addr)
	c.write(request("GET", instanceID))
	<-started
	c.c.Close()
	<-canceled
}

// shortTimeouts are timeouts short enough for tests, and far enough apart
// to tell which one closed a connection.
var shortTimeouts = Timeouts{ReadHeader: 300 * time.Millisecond, Idle: time.Second, Write: time.Second,
	Upstream: 600 * time.Millisecond, Connect: 300 * time.Millisecond}

// between fails unless lo <= d <= hi.
func between(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d > hi {
		t.Errorf("%s after %v, want between %v and %v", what, d.Round(time.Millisecond), lo, hi)
	}
}

// slack is how late the loop may act on a deadline: its sweep interval and
// a margin for a loaded machine.
const slack = sweepEvery + 350*time.Millisecond

func TestReadHeaderTimeout(t *testing.T) {
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, &shortTimeouts)
	c := dialProxy(t, f.addr)
	c.write("GET /latest/meta-data/instance-id HTTP/1.1\r\nHo")
	between(t, "a half head was dropped", c.closed(2*time.Second), shortTimeouts.ReadHeader-50*time.Millisecond, shortTimeouts.ReadHeader+slack)

	// The head's clock starts with its first byte, on a kept connection too.
	c = dialProxy(t, f.addr)
	resp, body := c.get(instanceID)
	wantOK(t, "first", resp, body, fakeimds.InstanceID)
	c.write("GET /latest/meta")
	between(t, "a second half head was dropped", c.closed(2*time.Second), shortTimeouts.ReadHeader-50*time.Millisecond, shortTimeouts.ReadHeader+slack)
}

func TestIdleTimeout(t *testing.T) {
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, &shortTimeouts)
	c := dialProxy(t, f.addr)
	resp, body := c.get(instanceID)
	wantOK(t, "first", resp, body, fakeimds.InstanceID)
	between(t, "an idle connection was closed", c.closed(3*time.Second), shortTimeouts.Idle-50*time.Millisecond, shortTimeouts.Idle+slack)

	// A new connection that never sends a byte gets the head's limit, as
	// with net/http's server: it is not kept as long as one that was served.
	c = dialProxy(t, f.addr)
	between(t, "a silent new connection was closed", c.closed(3*time.Second), shortTimeouts.ReadHeader-50*time.Millisecond, shortTimeouts.ReadHeader+slack)
}

// TestUpstreamTimeout: a service that never answers is a 502 after the
// Upstream timeout, once: a timed-out request is not sent again, even on a
// connection that had served before.
func TestUpstreamTimeout(t *testing.T) {
	u := startRawUpstream(t, "127.0.0.1:0", func(u *rawUpstream, n int, _ *http.Request) (string, bool) {
		if n == 1 {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		}
		<-u.stop
		return "", true
	})
	f := startFront(t, "127.0.0.1:0", u.addr, &shortTimeouts)
	c := dialProxy(t, f.addr)
	resp, body := c.get(instanceID)
	wantOK(t, "first", resp, body, "ok")
	start := time.Now()
	resp, _ = c.get(instanceID)
	wantBadGateway(t, "a request the service holds", resp)
	between(t, "502", time.Since(start), shortTimeouts.Upstream-50*time.Millisecond, shortTimeouts.Upstream+slack)
	if n := u.requests.Load(); n != 2 {
		t.Errorf("the service got %d requests, want 2 (the held one sent once)", n)
	}
	c.closed(time.Second)
}

// synSwallower returns a loopback address whose listener has a full accept
// queue: the kernel drops further SYNs, so a connection to it stays in
// SYN_SENT until its caller gives up.
func synSwallower(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	// A backlog of 0 holds one connection that is never accepted.
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := addrPort(sa).String()
	filled := 0
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		filled++
	}
	// The check the test rests on: a further connection does not complete.
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatalf("a connection to %s completed after %d filled the queue: the kernel does not drop SYNs to a full accept queue here", addr, filled)
	}
	return addr
}

// TestConnectTimeout: a service that never answers the SYN costs a request
// the connect limit, not the exchange's, and the loop serves other
// connections meanwhile.
func TestConnectTimeout(t *testing.T) {
	to := shortTimeouts
	to.Upstream = 5 * time.Second // far above Connect: the 502 must come from Connect
	f := startFront(t, "127.0.0.1:0", synSwallower(t), &to)
	c := dialProxy(t, f.addr)
	start := time.Now()
	type result struct {
		resp *http.Response
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		resp, _, err := c.tryGet(instanceID)
		done <- result{resp, err, time.Since(start)}
	}()
	// Meanwhile the loop is not stuck in the connect: it answers a refusal.
	other := dialProxy(t, f.addr)
	resp, _ := other.get(userData)
	wantRefused(t, "user-data while a connect hangs", resp, proxy.RuleAWSUserData)
	if d := time.Since(start); d > to.Connect {
		t.Errorf("the refusal took %v: the loop waited for the connect", d)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("reading the answer to a request for a service that never answers the SYN: %v", r.err)
	}
	wantBadGateway(t, "a service that never answers the SYN", r.resp)
	between(t, "502", r.took, to.Connect-50*time.Millisecond, to.Connect+slack)
	c.closed(time.Second)
}

func TestUpstreamRefusesConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	f := startFront(t, "127.0.0.1:0", addr, &shortTimeouts)
	for range 3 {
		c := dialProxy(t, f.addr)
		start := time.Now()
		resp, _ := c.get(instanceID)
		wantBadGateway(t, "no service", resp)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("502 after %v, want it at once", d)
		}
		c.closed(time.Second)
	}
}

// TestMalformedRequests: a head the parser refuses gets its status and the
// connection ends; a request with a body is refused, and its body is never
// taken for a request.
func TestMalformedRequests(t *testing.T) {
	fake, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil)
	smuggled := request("GET", instanceID)
	cases := []struct {
		name   string
		send   string
		status int
		rule   proxy.Rule
	}{
		{"garbage", "HELLO THERE\r\n\r\n", 400, ""},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400, ""},
		{"binary", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, ""},
		{"head over 16 KiB", "GET " + instanceID + " HTTP/1.1\r\nHost: " + imdsHost + "\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n", 431, ""},
		{"endless head", "GET " + instanceID + " HTTP/1.1\r\nHost: " + imdsHost + "\r\n" + strings.Repeat("X-A: b\r\n", 4<<10), 431, ""},
		{"POST with a body", request("POST", instanceID, "Content-Length: 5") + "hello", 403, proxy.RuleMethod},
		{"GET with a body", request("GET", instanceID, "Content-Length: 5") + "hello", 403, proxy.RuleBody},
		{"GET with a request for a body", request("GET", instanceID, "Content-Length: "+strconv.Itoa(len(smuggled))) + smuggled, 403, proxy.RuleBody},
		{"chunked body with a request in it", request("GET", instanceID, "Transfer-Encoding: chunked") +
			strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n", 403, proxy.RuleBody},
		{"large body", request("GET", instanceID, "Content-Length: 200000") + strings.Repeat(smuggled, 200000/len(smuggled)+1)[:200000], 403, proxy.RuleBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := fake.Requests()
			c := dialProxy(t, f.addr)
			// A large body is written while the answer is read.
			go func() { _, _ = io.WriteString(c.c, tc.send) }()
			resp, body := c.read("GET")
			if tc.rule != "" {
				wantRefused(t, tc.name, resp, tc.rule)
			} else if resp.StatusCode != tc.status || resp.Header.Get(MarkerHeader) != "" {
				t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
			}
			if !resp.Close {
				t.Errorf("the answer does not say Connection: close")
			}
			// Closed, not reset, even where the proxy answered before
			// it read all that was sent (a reset could destroy the
			// answer before the pod read it): the proxy lingers.
			c.closed(time.Second)
			if n := fake.Requests() - before; n != 0 {
				t.Fatalf("the service saw %d requests", n)
			}
		})
	}
}

// TestShutdown: Shutdown lets the answer in progress finish, closes idle
// connections at once, and Serve returns when the last answer is written.
func TestShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	up := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == instanceID {
			started <- struct{}{}
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	f := startFront(t, "127.0.0.1:0", up, nil)
	idle := dialProxy(t, f.addr)
	resp, body := idle.get(region)
	wantOK(t, "idle's first", resp, body, "ok")
	busy := dialProxy(t, f.addr)
	busy.write(request("GET", instanceID))
	<-started

	start := time.Now()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		shut <- f.srv.Shutdown(ctx)
	}()
	if d := idle.closed(time.Second); d > 200*time.Millisecond {
		t.Errorf("the idle connection was closed %v after Shutdown, want at once", d)
	}
	resp, body = busy.read("GET")
	wantOK(t, "the request in progress", resp, body, "ok")
	if !resp.Close {
		t.Errorf("the last answer does not say Connection: close")
	}
	busy.closed(time.Second)
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Shutdown did not return once the last answer was written")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if err := f.wait(t, time.Second); err != ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Errorf("the listener is still open after Serve returned")
	}
}

// TestShutdownExpired: with its context already done, Shutdown closes
// everything at once, the connection whose request is in progress too.
func TestShutdownExpired(t *testing.T) {
	started := make(chan struct{}, 1)
	up := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	f := startFront(t, "127.0.0.1:0", up, nil)
	busy := dialProxy(t, f.addr)
	busy.write(request("GET", instanceID))
	<-started
	idle := dialProxy(t, f.addr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := f.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown returned %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Shutdown took %v", d)
	}
	if err := f.wait(t, time.Second); err != ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	busy.closed(200 * time.Millisecond)
	idle.closed(200 * time.Millisecond)
}

func TestCloseBeforeServe(t *testing.T) {
	p, _ := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	srv := NewServer(New(p))
	_ = srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		if err != ErrServerClosed {
			t.Fatalf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Serve after Close did not return")
	}
	if _, err := ln.Accept(); err == nil {
		t.Errorf("Serve left the listener open")
	}
}

// TestManyConnections: many clients at once over all the loops, each
// getting the answers to its own requests.
func TestManyConnections(t *testing.T) {
	fake, up := awsFake(t)
	// Every connection comes from 127.0.0.1: lift the per-source limit.
	f := startFront(t, "127.0.0.1:0", up, nil, func(s *Server) { s.MaxConnsPerSource = 1000 })
	type expect struct {
		body string
		rule proxy.Rule
	}
	paths := []string{instanceID, region, amiID, userData, roleCreds, "/latest/meta-data/local-ipv4"}
	want := map[string]expect{userData: {rule: proxy.RuleAWSUserData}, roleCreds: {rule: proxy.RuleAWSCredentials},
		"/latest/meta-data/local-ipv4": {rule: proxy.RuleUnknownPath}}
	// The bodies of the safe paths as the fake answers them directly.
	for _, p := range paths[:3] {
		resp, err := http.Get("http://" + up + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want[p] = expect{body: string(b)}
	}

	const conns, perConn = 200, 50
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			for j := range perConn {
				p := paths[(i+j)%len(paths)]
				if _, err := io.WriteString(c, request("GET", p)); err != nil {
					errs <- fmt.Errorf("connection %d request %d: %w", i, j, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("connection %d request %d (%s): %w", i, j, p, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- fmt.Errorf("connection %d request %d (%s): %w", i, j, p, err)
					return
				}
				w := want[p]
				rule, refused := RefusedBy(resp)
				if w.rule != "" && (!refused || rule != w.rule) || w.rule == "" && (resp.StatusCode != 200 || refused || string(b) != w.body) {
					errs <- fmt.Errorf("connection %d request %d (%s): status %d, rule %q, body %q; want %+v", i, j, p, resp.StatusCode, rule, b, w)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The allowed requests reached the service, and the 3 made directly.
	forwarded := 3
	for i := range conns {
		for j := range perConn {
			if want[paths[(i+j)%len(paths)]].rule == "" {
				forwarded++
			}
		}
	}
	if n, want := fake.Requests(), forwarded; n != want {
		t.Errorf("the service saw %d requests, want %d", n, want)
	}
}

// TestIPv6: the proxy on ::1 in front of a service on ::1.
func TestIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("this test needs IPv6 loopback (::1): %v", err)
	}
	fake := fakeimds.New(endpoints.AWS, fakeimds.Options{})
	up := httptest.NewUnstartedServer(fake)
	up.Listener.Close()
	up.Listener = ln
	up.Start()
	t.Cleanup(up.Close)
	f := startFront(t, "[::1]:0", ln.Addr().String(), nil)
	if !strings.HasPrefix(f.addr, "[::1]:") {
		t.Fatalf("the proxy listens on %s", f.addr)
	}
	c := dialProxy(t, f.addr)
	for range 2 {
		resp, body := c.get(instanceID)
		wantOK(t, "GET over IPv6", resp, body, fakeimds.InstanceID)
		resp, _ = c.get(userData)
		wantRefused(t, "refused over IPv6", resp, proxy.RuleAWSUserData)
	}
	if n := fake.Requests(); n != 2 {
		t.Errorf("the service saw %d requests, want 2", n)
	}
}

// TestAnswerHeaders: the service's headers reach the client, every value
// of each, except those about its connection with the proxy.
func TestAnswerHeaders(t *testing.T) {
	u := startRawUpstream(t, "127.0.0.1:0", func(*rawUpstream, int, *http.Request) (string, bool) {
		return "HTTP/1.1 200 OK\r\n" +
			"Connection: keep-alive\r\n" +
			"Keep-Alive: timeout=5\r\n" +
			"Upgrade: h2c\r\n" +
			"Proxy-Connection: keep-alive\r\n" +
			"Proxy-Authenticate: Basic\r\n" +
			"Te: trailers\r\n" +
			"Trailer: X-Checksum\r\n" +
			"Transfer-Encoding: chunked\r\n" +
			"Content-Type: text/plain\r\n" +
			"X-Multi: one\r\n" +
			"Set-Cookie: a=1\r\n" +
			"X-Multi: two, three\r\n" +
			"Set-Cookie: b=2\r\n" +
			"X-Empty: \r\n" +
			"Etag: \"abc\"\r\n" +
			"\r\n" +
			"4\r\nbody\r\n0\r\nX-Checksum: 1\r\n\r\n", false
	})
	f := startFront(t, "127.0.0.1:0", u.addr, nil)
	c := dialProxy(t, f.addr)
	for range 2 {
		c.write(request("GET", instanceID))
		// The head as sent, not as a client would clean it up.
		tp := textproto.NewReader(c.br)
		status, err := tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			t.Fatal(err)
		}
		if status != "HTTP/1.1 200 OK" {
			t.Fatalf("status line %q", status)
		}
		for _, k := range []string{"Connection", "Keep-Alive", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "X-Checksum"} {
			if v, ok := h[k]; ok {
				t.Errorf("%s: %q reached the client", k, v)
			}
		}
		want := map[string][]string{
			"Content-Type":   {"text/plain"},
			"X-Multi":        {"one", "two, three"},
			"Set-Cookie":     {"a=1", "b=2"},
			"X-Empty":        {""},
			"Etag":           {`"abc"`},
			"Content-Length": {"4"},
		}
		for k, v := range want {
			if got := h[k]; strings.Join(got, "|") != strings.Join(v, "|") || len(got) != len(v) {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		if len(h) != len(want) {
			t.Errorf("headers %v, want only %v", h, want)
		}
		body := make([]byte, 4)
		if _, err := io.ReadFull(c.br, body); err != nil || string(body) != "body" {
			t.Fatalf("body %q: %v", body, err)
		}
	}
	if n := u.accepted.Load(); n != 1 {
		t.Errorf("%d connections to the service, want 1", n)
	}
}

// TestClientShutsItsSide: a client that sends its request and shuts its
// side at once (its FIN may come in the same edge as the request) gets the
// proxy's answer and then the connection ends, not after the Idle timeout.
func TestClientShutsItsSide(t *testing.T) {
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil)
	for range 20 {
		c := dialProxy(t, f.addr)
		c.write(request("GET", userData) + request("GET", roleCreds))
		if err := c.c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, _ := c.read("GET")
		wantRefused(t, "first", resp, proxy.RuleAWSUserData)
		resp, _ = c.read("GET")
		wantRefused(t, "second", resp, proxy.RuleAWSCredentials)
		c.closed(500 * time.Millisecond)
	}
}

// TestConnectionsPerSource: connections from one address over the limit are
// closed at once, and a closed one frees its place.
func TestConnectionsPerSource(t *testing.T) {
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil, func(s *Server) { s.MaxConnsPerSource = 3 })
	var open []*conn
	for range 3 {
		c := dialProxy(t, f.addr)
		resp, _ := c.get(instanceID)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a connection under the limit: status %d", resp.StatusCode)
		}
		open = append(open, c)
	}
	over := dialProxy(t, f.addr)
	over.closed(time.Second)
	open[0].c.Close()
	// The proxy learns of the close on its next event; try until it has.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c := dialProxy(t, f.addr)
		_ = c.c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c.c, request("GET", instanceID)); err == nil {
			if resp, err := http.ReadResponse(c.br, nil); err == nil && resp.StatusCode == http.StatusOK {
				break
			}
		}
		c.c.Close()
		if time.Now().After(deadline) {
			t.Fatal("a closed connection did not free its place")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAcceptPausesWhenOutOfDescriptors: when accepting fails for want of
// descriptors, the loop stops polling the listener (which stays readable)
// instead of spinning on it, and takes the waiting connection once
// accepting works again.
func TestAcceptPausesWhenOutOfDescriptors(t *testing.T) {
	_, up := awsFake(t)
	var failing atomic.Bool
	var calls atomic.Int64
	accept4 = func(fd, flags int) (int, unix.Sockaddr, error) {
		calls.Add(1)
		if failing.Load() {
			return -1, nil, unix.EMFILE
		}
		return unix.Accept4(fd, flags)
	}
	t.Cleanup(func() { accept4 = unix.Accept4 })
	f := startFront(t, "127.0.0.1:0", up, nil)
	failing.Store(true)
	c := dialProxy(t, f.addr) // waits in the kernel's accept queue
	c.write(request("GET", instanceID))
	time.Sleep(600 * time.Millisecond)
	// Each loop tries once, then once per sweep (every 250 ms): a
	// spinning loop would have tried many thousands of times.
	if n := calls.Load(); n > 20 {
		t.Fatalf("accept tried %d times in 600 ms while failing: the loop spins", n)
	}
	failing.Store(false)
	_ = c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("the waiting connection was not served once accepting worked again: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestWriteTimeout: a client that stops reading its answer is disconnected
// after the Write timeout; without it, the loop would hold the connection
// and the answer for as long as the client liked.
func TestWriteTimeout(t *testing.T) {
	big := randomBytes(maxResponseBytes)
	up := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write(big)
	})
	to := DefaultTimeouts
	to.Write = 300 * time.Millisecond
	f := startFront(t, "127.0.0.1:0", up, &to)
	// A small receive buffer, so that the proxy's writes stop well before
	// the end of the answer.
	d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) }); cerr != nil {
			return cerr
		}
		return err
	}}
	nc, err := d.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, request("GET", instanceID)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // Write timeout, a sweep, and room
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := io.Copy(io.Discard, nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection is still open after the Write timeout (%d bytes read)", n)
	}
	if n >= int64(len(big)) {
		t.Fatalf("read %d bytes: the whole answer arrived, so the timeout was never tested", n)
	}
}

// loads returns the connections each loop counts.
func (f *front) loads() []int {
	f.srv.mu.Lock()
	defer f.srv.mu.Unlock()
	var n []int
	for _, l := range f.srv.lps {
		n = append(n, int(l.load.Load()))
	}
	return n
}

// TestLoopsShareConnections: with several loops, a new connection goes to
// the loop with the fewest, whichever loop the listener woke (one that is
// awake takes every connection queued, and the kernel wakes the first loop
// registered while it waits), and the loop it is handed to serves it.
func TestLoopsShareConnections(t *testing.T) {
	_, up := awsFake(t)
	const loops, perLoop = 3, 8
	f := startFront(t, "127.0.0.1:0", up, nil, func(s *Server) { s.loops = loops })
	var conns []*conn
	connect := func(n int) {
		for range n {
			c := dialProxy(t, f.addr)
			resp, body := c.get(instanceID)
			wantOK(t, fmt.Sprintf("connection %d", len(conns)), resp, body, fakeimds.InstanceID)
			conns = append(conns, c)
		}
	}
	connect(loops * perLoop)
	if got := f.loads(); !slices.Equal(got, []int{perLoop, perLoop, perLoop}) {
		t.Fatalf("connections per loop %v, want %d each", got, perLoop)
	}
	// Connections that close leave a loop short: the next ones go there.
	first := f.loads()
	for _, c := range conns[:loops] {
		c.c.Close()
	}
	testenv.Eventually(t, "closed connections uncounted", func() (bool, string) {
		got := f.loads()
		sum := 0
		for _, n := range got {
			sum += n
		}
		return sum == loops*perLoop-loops, fmt.Sprint(got)
	})
	connect(loops)
	if got := f.loads(); !slices.Equal(got, first) {
		t.Errorf("after %d closed and %d new connections: per loop %v, want %v", loops, loops, got, first)
	}
	// Every connection, wherever it went, is still served.
	for i, c := range conns[loops:] {
		resp, body := c.get(region)
		wantOK(t, fmt.Sprintf("connection %d again", i+loops), resp, body, fakeimds.Region)
	}
}

// plainWrites makes startFront's servers write with write(2)
// (TestPlainWrites); by default they write through io_uring.
var plainWrites bool

// TestRingCarriesWrites: where io_uring is allowed (as on the machines the
// tests run on), the loops' writes go through it: answers and requests to
// the service, several to one submission under load.
func TestRingCarriesWrites(t *testing.T) {
	_, up := awsFake(t)
	f := startFront(t, "127.0.0.1:0", up, nil, func(s *Server) { s.loops = 1 })
	const conns, each = 32, 20
	var wg sync.WaitGroup
	for range conns {
		c := dialProxy(t, f.addr)
		wg.Go(func() {
			for range each {
				_, body, err := c.tryGet(instanceID)
				if err != nil || body != fakeimds.InstanceID {
					t.Errorf("answer %q, %v", body, err)
					return
				}
			}
		})
	}
	wg.Wait()
	f.srv.mu.Lock()
	l := f.srv.lps[0]
	f.srv.mu.Unlock()
	if l.ring == nil {
		t.Fatal("the loop has no io_uring: newRing failed here (seccomp, kernel.io_uring_disabled?)")
	}
	// Read after Close: the loop has stopped touching its ring.
	_ = f.srv.Close()
	_ = f.wait(t, 2*time.Second)
	writes := l.ring.next // one per write submitted
	if writes < 2*conns*each {
		t.Errorf("%d writes through the ring for %d exchanges, want at least 2 each", writes, conns*each)
	}
	if l.ring.submits >= int(writes) {
		t.Errorf("%d submissions for %d writes: none batched", l.ring.submits, writes)
	}
	t.Logf("%d writes in %d submissions", writes, l.ring.submits)
}

// TestPlainWrites runs the tests of writing with write(2), the path of
// machines where io_uring is not allowed.
func TestPlainWrites(t *testing.T) {
	plainWrites = true
	defer func() { plainWrites = false }()
	for name, test := range map[string]func(*testing.T){
		"Pipelining": TestPipelining, "LargeAnswer": TestLargeAnswer, "UpstreamFraming": TestUpstreamFraming,
		"ClientHangUpCancelsExchange": TestClientHangUpCancelsExchange, "MalformedRequests": TestMalformedRequests,
		"Shutdown": TestShutdown, "ManyConnections": TestManyConnections, "WriteTimeout": TestWriteTimeout,
		"ClientShutsItsSide": TestClientShutsItsSide, "AnswerHeaders": TestAnswerHeaders,
	} {
		t.Run(name, test)
	}
}
