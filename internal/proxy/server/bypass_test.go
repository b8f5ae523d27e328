package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/proxytest"
)

// TestBypassCorpusOverTheWire sends the policy's bypass corpus
// (internal/proxy/testdata/bypass.txt and the generated attacks) to the
// proxy as raw bytes on keep-alive connections, so that the server's own
// reading of each request is tested with the policy: every attack must be
// refused by the policy or by the request parser, except where the wire
// itself undoes the trick (a header value's trailing space is not part of
// the value in HTTP); whatever reaches the metadata service must be a safe
// path.
func TestBypassCorpusOverTheWire(t *testing.T) {
	corpus, err := proxytest.Corpus("../testdata/bypass.txt")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reached []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.RequestURI)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)

	type key struct {
		f  proxy.Flavour
		v2 bool
	}
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	addrs := map[key]string{}
	conns := map[key]*conn{}
	byPolicy, byParser, forwarded := 0, 0, 0
	for _, a := range corpus {
		k := key{a.Flavour, a.RequireIMDSv2}
		if addrs[k] == "" {
			p, err := proxy.New(proxy.Options{Flavour: a.Flavour, RequireIMDSv2: a.RequireIMDSv2})
			if err != nil {
				t.Fatal(err)
			}
			addrs[k] = serve(t, New(p, WithUpstream(u)))
		}
		c := conns[k]
		if c == nil {
			nc, err := net.DialTimeout("tcp", addrs[k], 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c = &conn{nc, bufio.NewReader(nc)}
			conns[k] = c
		}
		_ = c.c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c.c, rawRequest(a.Request)); err != nil {
			t.Fatalf("%s: %v", a.Origin, err)
		}
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("%s: %s %q: reading the answer: %v", a.Origin, a.Request.Method, a.Request.Target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		_, refused := RefusedBy(resp)
		switch {
		case refused:
			byPolicy++
		case resp.StatusCode >= 400 && resp.Header.Get(MarkerHeader) == "":
			byParser++
		case resp.StatusCode == http.StatusOK:
			forwarded++
		default:
			t.Errorf("%s: %s %q: answer %d", a.Origin, a.Request.Method, a.Request.Target, resp.StatusCode)
		}
		if resp.Close {
			c.c.Close()
			delete(conns, k)
		}
	}
	for _, c := range conns {
		c.c.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, target := range reached {
		if !slices.Contains(proxytest.SafePaths(), target) {
			t.Errorf("the metadata service was asked for %q", target)
		}
	}
	t.Logf("bypass corpus over the wire: %d requests: %d refused by the policy, %d by the request parser, %d forwarded (all to safe paths)",
		len(corpus), byPolicy, byParser, forwarded)
	if forwarded != len(reached) {
		t.Errorf("%d answers came from the service, which saw %d requests", forwarded, len(reached))
	}
	// A parser that refused everything would pass the checks above.
	if byPolicy < len(corpus)/2 {
		t.Errorf("only %d of %d attacks reached the policy", byPolicy, len(corpus))
	}
}

// rawRequest renders a request exactly as the corpus spells it.
func rawRequest(r proxy.Request) string {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.Target + " HTTP/1.1\r\n")
	if r.Host != "" {
		b.WriteString("Host: " + r.Host + "\r\n")
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}
