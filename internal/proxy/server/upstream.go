package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// upstreamClient is a small HTTP/1.1 client for one host. The proxy's
// requests are few and simple (no body but the empty token PUT, a handful
// of headers it chose itself), so it writes them directly on a pooled
// connection and reads the answer in the calling goroutine, which saves
// net/http.Transport's hand-offs between goroutines on every request.
type upstreamClient struct {
	addr string
	host string
	idle chan *upstreamConn
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

type upstreamConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

const (
	maxIdleUpstream = 256
	upstreamTimeout = 70 * time.Second // GCP's wait_for_change holds requests open
)

func newUpstreamClient(addr, host string) *upstreamClient {
	return &upstreamClient{addr: addr, host: host, idle: make(chan *upstreamConn, maxIdleUpstream),
		dial: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
}

// Do sends method and target (a canonical request-target) with the
// headers of in that the metadata services read, and returns the response;
// its body returns the connection to the pool once read to the end.
func (u *upstreamClient) Do(ctx context.Context, method, target string, in http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		uc, reused, err := u.get(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := u.exchange(ctx, uc, method, target, in)
		if err == nil {
			return resp, nil
		}
		uc.c.Close()
		// A pooled connection the service closed meanwhile fails at once;
		// the request is idempotent or the empty token PUT, so try once more
		// on a fresh connection.
		if !reused || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (u *upstreamClient) get(ctx context.Context) (*upstreamConn, bool, error) {
	select {
	case uc := <-u.idle:
		return uc, true, nil
	default:
	}
	c, err := u.dial(ctx, "tcp", u.addr)
	if err != nil {
		return nil, false, err
	}
	return &upstreamConn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 1024)}, false, nil
}

// put returns a connection to the pool. Its deadline stays: the next
// exchange sets its own before using it.
func (u *upstreamClient) put(uc *upstreamConn) {
	select {
	case u.idle <- uc:
	default:
		uc.c.Close()
	}
}

// Requests that tell http.ReadResponse how to read a response body: none
// for HEAD. Only these methods reach the service.
var (
	getRequest  = &http.Request{Method: http.MethodGet}
	headRequest = &http.Request{Method: http.MethodHead}
	putRequest  = &http.Request{Method: http.MethodPut}
)

func (u *upstreamClient) exchange(ctx context.Context, uc *upstreamConn, method, target string, in http.Header) (*http.Response, error) {
	deadline := time.Now().Add(upstreamTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = uc.c.SetDeadline(deadline)
	w := uc.bw
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(u.host)
	w.WriteString("\r\n")
	// Header names in a server-side request are canonical, as are these.
	for _, k := range forwardedHeaders {
		for _, v := range in[k] {
			if strings.ContainsAny(v, "\r\n") {
				return nil, errors.New("header value with a line break")
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	req := getRequest
	switch method {
	case http.MethodPut:
		req = putRequest
		w.WriteString("Content-Length: 0\r\n")
	case http.MethodHead:
		req = headRequest
	}
	w.WriteString("\r\n")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(uc.br, req)
	if err != nil {
		return nil, err
	}
	resp.Body = &pooledBody{rc: resp.Body, uc: uc, u: u, keep: !resp.Close}
	return resp, nil
}

// pooledBody gives the connection back when the body has been read to the
// end, and closes it otherwise.
type pooledBody struct {
	rc   io.ReadCloser
	uc   *upstreamConn
	u    *upstreamClient
	keep bool
	eof  bool
	done bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	err := b.rc.Close()
	// Bytes past the response would be read as the next one's: never reuse
	// such a connection.
	if b.keep && b.eof && err == nil && b.uc.br.Buffered() == 0 {
		b.u.put(b.uc)
		return nil
	}
	b.uc.c.Close()
	return err
}
