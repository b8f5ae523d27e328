package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/wire"
)

// upConn is a connection to the metadata service. It carries one exchange
// at a time, for one client, and goes back to its loop's idle list when the
// answer was framed exactly (nothing past it, no close announced).
type upConn struct {
	l     *loop
	fd    int
	state upState
	c     *client // the client whose request this is; nil when idle
	// reused: the connection served an exchange before, so a failure
	// before any answer may be the service having closed it meanwhile.
	reused bool
	got    bool // some of the answer arrived
	method string
	out    []byte // the request being sent
	off    int
	in     []byte // the answer as read
	n      int
	eof    bool
	resp   wire.Response
	head   int // the answer's head length once parsed
	pos    int // how much of in the chunked decoder has consumed
	chunks wire.Chunked
	body   []byte // a chunked answer's decoded body
	edges
	deadline time.Time
	closed   bool
}

type upState int

const (
	upConnecting upState = iota
	upSending
	upReading
	upIdle
)

// maxResponseRead bounds the bytes read for one answer, chunk framing
// included.
const maxResponseRead = 2*maxResponseBytes + wire.MaxResponseHead

// exchange sends the client's request to the metadata service: on an idle
// connection, or a fresh one when fresh is set (the retry after a reused
// connection failed).
func (l *loop) exchange(c *client, fresh bool) {
	var u *upConn
	if !fresh && len(l.idle) > 0 {
		u = l.idle[len(l.idle)-1]
		l.idle = l.idle[:len(l.idle)-1]
		u.state = upSending
		u.writable = true
	} else {
		var err error
		if u, err = l.dial(); err != nil {
			l.upstreamFailed(c, err)
			return
		}
	}
	u.c, c.up = c, u
	u.method = c.req.Method
	u.out = renderRequest(u.out[:0], c.req.Method, c.target, l.h.upHost, c.req.Header)
	u.off = 0
	u.deadline = l.now.Add(l.s.Timeouts.Upstream)
	if u.state == upConnecting {
		u.deadline = l.now.Add(l.s.Timeouts.Connect)
	}
	u.progress()
}

func (l *loop) dial() (*upConn, error) {
	fd, err := unix.Socket(l.upFamily, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	u := &upConn{l: l, fd: fd, state: upSending, edges: edges{writable: true}}
	if err := unix.Connect(fd, l.upSock); err == unix.EINPROGRESS {
		u.state, u.writable = upConnecting, false
	} else if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connecting to the metadata service: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := l.add(fd, u); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return u, nil
}

// renderRequest writes the request the service gets: the canonical target,
// the service's host, and only the headers it reads (forwardedHeaders).
// The parser refused every header value holding a line break.
func renderRequest(b []byte, method, target, host string, in http.Header) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for _, k := range forwardedHeaders {
		for _, v := range in[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if method == http.MethodPut {
		b = append(b, "Content-Length: 0\r\n"...)
	}
	return append(b, "\r\n"...)
}

func (u *upConn) sent(n int, res int32) {
	m, err := u.wrote(n, res)
	if err != nil {
		u.fail(fmt.Errorf("sending to the metadata service: %w", err))
		return
	}
	u.off += m
	u.progress()
}

func (u *upConn) event(ev uint32) {
	u.note(ev)
	u.progress()
}

func (u *upConn) progress() {
	for !u.closed {
		switch u.state {
		case upIdle:
			// An idle connection has nothing to say: data or a hang-up
			// means the service is done with it.
			if u.readable {
				u.closeConn()
			}
			return
		case upConnecting:
			if !u.writable {
				return
			}
			if errno, err := unix.GetsockoptInt(u.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || errno != 0 {
				if err == nil {
					err = unix.Errno(errno)
				}
				u.fail(fmt.Errorf("connecting to the metadata service: %w", err))
				return
			}
			u.state = upSending
			u.deadline = u.l.now.Add(u.l.s.Timeouts.Upstream)
		case upSending:
			var err error
			if u.off, err = u.send(u.l, u.fd, u.out, u.off); err != nil {
				u.fail(fmt.Errorf("sending to the metadata service: %w", err))
				return
			}
			if u.off < len(u.out) {
				return
			}
			u.state = upReading
		case upReading:
			if !u.readable {
				return
			}
			if err := u.read(); err != nil {
				u.fail(err)
				return
			}
			done, err := u.complete()
			if err != nil {
				u.fail(err)
				return
			}
			if !done {
				if u.eof {
					u.fail(errors.New("the metadata service closed the connection before the end of its answer"))
				}
				return
			}
			u.deliver()
			return
		}
	}
}

// read reads what the socket holds.
func (u *upConn) read() error {
	for u.readable && !u.eof {
		if u.n == len(u.in) {
			if len(u.in) >= maxResponseRead {
				return fmt.Errorf("the metadata service's answer is over %d bytes", maxResponseRead)
			}
			u.in = slices.Grow(u.in[:u.n], max(readChunk, u.n))[:min(2*max(readChunk/2, u.n), maxResponseRead)]
		}
		m, err := rawRead(u.fd, u.in[u.n:])
		switch {
		case err == unix.EAGAIN:
			u.readable = false
		case err == unix.EINTR:
		case err != nil:
			return fmt.Errorf("reading from the metadata service: %w", err)
		case m == 0:
			u.eof = true
		default:
			u.got = true
			u.n += m
			if u.n < len(u.in) && !u.peerShut {
				u.readable = false
			}
		}
	}
	return nil
}

// complete reports whether the whole answer has arrived.
func (u *upConn) complete() (bool, error) {
	if u.head == 0 {
		hl, err := wire.ParseResponse(u.in[:u.n], u.method, &u.resp)
		if errors.Is(err, wire.ErrIncomplete) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("the metadata service's answer: %w", err)
		}
		// A HEAD's answer announces the length a GET would get and has no
		// body: only a body that will be read is bounded.
		if !u.resp.NoBody && u.resp.ContentLength > maxResponseBytes {
			return false, fmt.Errorf("the metadata service's answer has %d bytes, over %d", u.resp.ContentLength, maxResponseBytes)
		}
		u.head, u.pos = hl, hl
		u.chunks.Reset()
		u.body = u.body[:0]
	}
	switch {
	case u.resp.NoBody:
		return true, nil
	case u.resp.Chunked:
		body, k, done, err := u.chunks.Decode(u.in[u.pos:u.n], u.body)
		u.body, u.pos = body, u.pos+k
		if err != nil {
			return false, fmt.Errorf("the metadata service's chunked answer: %w", err)
		}
		if len(u.body) > maxResponseBytes {
			return false, fmt.Errorf("the metadata service's answer is over %d bytes", maxResponseBytes)
		}
		return done, nil
	case u.resp.ContentLength >= 0:
		if u.n >= u.head+int(u.resp.ContentLength) {
			u.pos = u.head + int(u.resp.ContentLength)
			return true, nil
		}
		return false, nil
	default: // delimited by the service closing the connection
		if u.n-u.head > maxResponseBytes {
			return false, fmt.Errorf("the metadata service's answer is over %d bytes", maxResponseBytes)
		}
		u.pos = u.n
		return u.eof, nil
	}
}

// answerBody is the body bytes of a complete answer.
func (u *upConn) answerBody() []byte {
	switch {
	case u.resp.NoBody:
		return nil
	case u.resp.Chunked:
		return u.body
	}
	return u.in[u.head:u.pos]
}

// deliver hands the answer to the client and the connection back to the
// idle list, or closes it when its framing leaves any doubt.
func (u *upConn) deliver() {
	c := u.c
	u.c, c.up = nil, nil
	if u.l.mode.Load() != running {
		c.closeAfter = true // Shutdown: this answer is the connection's last
	}
	c.answer(u.l.forwarded(c.out[:0], &u.resp, u.answerBody(), u.method == http.MethodHead, c.closeAfter))
	reuse := !u.resp.Close && !u.eof && u.pos == u.n && len(u.l.idle) < maxIdleUpstream
	if cap(u.in) > 64<<10 {
		u.in = nil
	}
	if cap(u.body) > 64<<10 {
		u.body = nil
	}
	u.n, u.head, u.pos, u.got = 0, 0, 0, false
	if reuse {
		u.state, u.reused, u.deadline = upIdle, true, time.Time{}
		u.l.idle = append(u.l.idle, u)
	} else {
		u.closeConn()
	}
	c.kick()
}

// fail ends the exchange with an error: the client gets a 502, or, when a
// reused connection failed before any answer, the request is sent once more
// on a fresh connection (every forwarded request is idempotent or the
// empty token PUT).
func (u *upConn) fail(err error) {
	c := u.c
	u.c = nil
	retry := u.reused && !u.got
	u.closeConn()
	if c == nil {
		return
	}
	c.up = nil
	if retry && !c.retried {
		c.retried = true
		u.l.exchange(c, true)
		return
	}
	u.l.upstreamFailed(c, err)
}

// abandon drops the exchange of a client that went away.
func (u *upConn) abandon() {
	u.c = nil
	u.closeConn()
}

func (u *upConn) closeConn() {
	if u.closed {
		return
	}
	u.closed = true
	if u.state == upIdle {
		if i := slices.Index(u.l.idle, u); i >= 0 {
			u.l.idle = slices.Delete(u.l.idle, i, i+1)
		}
	}
	u.l.forget(u.fd)
}

func (u *upConn) closeNow() {
	if c := u.c; c != nil {
		u.c, c.up = nil, nil
		c.closeNow()
	}
	u.closeConn()
}

// upstreamFailed answers a client whose request the service did not answer.
func (l *loop) upstreamFailed(c *client, err error) {
	l.h.upstreamError(err)
	c.closeAfter = true
	c.answer(l.plain(c.out[:0], http.StatusBadGateway, MarkerUpstream, "", "imdsguard-proxy: metadata service did not answer\n", true, c.req.Method == http.MethodHead))
	c.kick()
}

// The answers the loop writes.

// forwarded renders the service's answer for the client: its status and
// headers, hop-by-hop headers dropped, and the body framed by length.
func (l *loop) forwarded(b []byte, r *wire.Response, body []byte, head, closing bool) []byte {
	b = statusLine(b, r.StatusCode)
	keys := l.keys[:0]
	for k := range r.Header {
		if !hopHeader(k) && k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	l.keys = keys
	for _, k := range keys {
		for _, v := range r.Header[k] {
			b = header(b, k, v)
		}
	}
	switch {
	case head || r.StatusCode == http.StatusNotModified:
		// The length of what a GET would have had, as the service said.
		if v := r.Header["Content-Length"]; len(v) > 0 {
			b = header(b, "Content-Length", v[0])
		}
	case r.StatusCode == http.StatusNoContent:
	default:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !head {
		b = append(b, body...)
	}
	return b
}

// refusal renders the proxy's 403: marked, naming the rule.
func (l *loop) refusal(b []byte, rule proxy.Rule, head, closing bool) []byte {
	return l.plain(b, http.StatusForbidden, MarkerRefused, string(rule), "imdsguard-proxy: refused by rule "+string(rule)+"\n", closing, head)
}

// plain renders an answer of the proxy's own: a status, the marker header
// when marker is set, the rule header when rule is set, and a text body.
func (l *loop) plain(b []byte, status int, marker, rule, text string, closing, head bool) []byte {
	b = statusLine(b, status)
	b = append(b, "Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)), 10)
	b = append(b, "\r\n"...)
	if marker != "" {
		b = header(b, MarkerHeader, marker)
	}
	if rule != "" {
		b = header(b, RuleHeader, rule)
	}
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !head {
		b = append(b, text...)
	}
	return b
}

func statusLine(b []byte, code int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	text := http.StatusText(code)
	if text == "" {
		text = "Status " + strconv.Itoa(code)
	}
	b = append(b, text...)
	return append(b, "\r\n"...)
}

func header(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}
