package wire

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// MaxHead is the longest request head accepted (request line + headers + blank line).
const MaxHead = 16 << 10

// Request is a parsed request head: what the proxy's policy reads
// (proxy.Request), set as net/http's server sets those fields on an
// *http.Request, plus Close.
type Request struct {
	Method string
	Target string // the request-target as sent (http.Request.RequestURI)
	// Host is set as net/http sets Request.Host: the absolute-form URI's
	// host if the target has one, else the Host header.
	Host string
	// Header has canonical keys (textproto.CanonicalMIMEHeaderKey), Host
	// removed, as net/http's server leaves it.
	Header http.Header
	// ContentLength is set as net/http sets it for a server request (0 with
	// no body headers, -1 for chunked).
	ContentLength    int64
	TransferEncoding []string // as net/http sets it
	ProtoMajor       int
	ProtoMinor       int
	// Close is true when the connection must close after the response
	// (HTTP/1.0 without keep-alive, or Connection: close), as
	// http.Request.Close.
	Close bool
}

// Error is a head the proxy refuses before any policy: Status is the HTTP
// status to answer with (400, 431, 501, 505, 417...), Reason a short text
// for the log. Reason never quotes the client's bytes.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("request head refused (%d): %s", e.Status, e.Reason)
}

func refuse(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// ParseRequest parses the head at the start of buf into r (r.Header is the
// caller's map: clear it and reuse it, so a connection's map is reused
// request after request). It returns the head's length in bytes. buf may
// hold more bytes after the head (a pipelined request): they are not
// touched.
//
// It accepts a subset of what net/http's server accepts and, for what it
// accepts, sets the same values. Where it is stricter: lines must end in
// CRLF, no obs-fold, only HTTP/1.0 and HTTP/1.1, only origin-form and
// http(s) absolute-form targets of printable ASCII with valid
// percent-escapes and no fragment, no CONNECT, no userinfo, no
// Transfer-Encoding on HTTP/1.0, Transfer-Encoding never with
// Content-Length or Trailer, Expect only "100-continue".
func ParseRequest(buf []byte, r *Request) (int, error) {
	n, lines, err := headLength(buf)
	if err != nil {
		return 0, err
	}
	// One string for the whole head: the target and every value are
	// substrings of it.
	head := string(buf[:n])

	h := r.Header
	if h == nil {
		h = make(http.Header, lines)
	} else {
		clear(h)
	}
	*r = Request{Header: h}

	eol := strings.IndexByte(head, '\n')
	if err := parseRequestLine(head[:eol-1], r); err != nil {
		return 0, err
	}
	urlHost := ""
	if r.Target[0] != '/' {
		if urlHost, err = absoluteHost(r.Target); err != nil {
			return 0, err
		}
	}

	var fields headerFields
	// One backing array for all values; each key gets a slice of capacity
	// one, so an append for a repeated key copies instead of overwriting
	// the next key's value.
	values := make([]string, lines-1)
	for rest := head[eol+1:]; ; {
		eol = strings.IndexByte(rest, '\n')
		line := rest[:eol-1]
		rest = rest[eol+1:]
		if line == "" {
			break
		}
		key, value, err := parseField(line)
		if err != nil {
			return 0, err
		}
		switch key {
		case "Host":
			fields.hosts++
			if fields.hosts == 1 {
				fields.host = value
			}
			continue
		case "Transfer-Encoding":
			// net/http's server always deletes it from Header.
			fields.te++
			fields.teValue = value
			continue
		}
		if vv, ok := h[key]; ok {
			h[key] = append(vv, value)
		} else {
			values[0] = value
			h[key], values = values[:1:1], values[1:]
		}
	}
	if err := finish(r, &fields, urlHost); err != nil {
		return 0, err
	}
	return n, nil
}

// headLength finds the end of the head: the first empty line. It returns
// the head's length and its number of lines before the empty one.
func headLength(buf []byte) (n, lines int, err error) {
	limit := min(len(buf), MaxHead)
	lineStart := 0
	for lineStart < limit {
		i := bytes.IndexByte(buf[lineStart:limit], '\n')
		if i < 0 {
			break
		}
		end := lineStart + i
		if i == 0 || buf[end-1] != '\r' {
			return 0, 0, refuse(http.StatusBadRequest, "line not ended by CRLF")
		}
		if i == 1 {
			if lines == 0 {
				return 0, 0, refuse(http.StatusBadRequest, "empty request line")
			}
			return end + 1, lines, nil
		}
		lines++
		lineStart = end + 1
	}
	if len(buf) >= MaxHead {
		return 0, 0, refuse(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
	}
	return 0, 0, ErrIncomplete
}

// StillIncomplete reports whether ParseRequest, which found buf[:from]
// incomplete, would find buf incomplete too. It looks only at buf[from:],
// so that a head arriving in many small reads is scanned once rather than
// once per read (which costs quadratic time in the head's length).
//
// Only a line feed can end a head or make it malformed: one that is not
// preceded by CR, or that ends an empty line. Past those, ParseRequest
// decides when buf reaches MaxHead.
func StillIncomplete(buf []byte, from int) bool {
	if len(buf) >= MaxHead {
		return false
	}
	for i := from; i < len(buf); i++ {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return true
		}
		i += j
		if i < 2 || buf[i-1] != '\r' || buf[i-2] == '\n' {
			return false
		}
	}
	return true
}

// parseRequestLine reads "METHOD SP TARGET SP HTTP/x.y".
func parseRequestLine(line string, r *Request) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return refuse(http.StatusBadRequest, "malformed request line")
	}
	if !isToken(method) {
		return refuse(http.StatusBadRequest, "invalid method")
	}
	if method == http.MethodConnect {
		return refuse(http.StatusNotImplemented, "CONNECT not supported")
	}
	switch proto {
	case "HTTP/1.1":
		r.ProtoMajor, r.ProtoMinor = 1, 1
	case "HTTP/1.0":
		r.ProtoMajor, r.ProtoMinor = 1, 0
	default:
		if len(proto) == len("HTTP/1.1") && strings.HasPrefix(proto, "HTTP/") &&
			isDigit(proto[5]) && proto[6] == '.' && isDigit(proto[7]) {
			return refuse(http.StatusHTTPVersionNotSupported, "unsupported HTTP version")
		}
		return refuse(http.StatusBadRequest, "malformed HTTP version")
	}
	if !validTarget(target) {
		return refuse(http.StatusBadRequest, "invalid request-target")
	}
	r.Method, r.Target = method, target
	return nil
}

// validTarget accepts printable ASCII with valid percent-escapes and no
// fragment, starting with "/" or an http(s) scheme. url.ParseRequestURI
// (what net/http uses) accepts more.
func validTarget(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c <= ' ' || c >= 0x7f || c == '#':
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
		}
	}
	return t[0] == '/' || hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://")
}

// absoluteHost returns the host of an absolute-form target as net/http
// sets Request.Host from it (url.ParseRequestURI's URL.Host).
func absoluteHost(t string) (string, error) {
	u, err := url.ParseRequestURI(t)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "invalid absolute-form request-target")
	}
	switch {
	case u.Host == "":
		return "", refuse(http.StatusBadRequest, "absolute-form request-target without host")
	case u.User != nil:
		return "", refuse(http.StatusBadRequest, "request-target with userinfo")
	case !httpguts.ValidHostHeader(u.Host):
		return "", refuse(http.StatusBadRequest, "invalid host in request-target")
	}
	return u.Host, nil
}

// parseField splits "Name: value" into the canonical name and the value
// without surrounding blanks, as textproto does.
func parseField(line string) (key, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", refuse(http.StatusBadRequest, "obsolete line folding")
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", refuse(http.StatusBadRequest, "header line without colon")
	}
	if !isToken(name) {
		return "", "", refuse(http.StatusBadRequest, "invalid header name")
	}
	value = trimBlanks(value)
	if !httpguts.ValidHeaderFieldValue(value) {
		return "", "", refuse(http.StatusBadRequest, "invalid header value")
	}
	return canonicalKey(name), value, nil
}

// headerFields are the headers net/http takes out of Header.
type headerFields struct {
	hosts   int
	host    string // the first Host header
	te      int
	teValue string // the last Transfer-Encoding header
}

// finish applies what net/http's server checks and sets after reading the
// header lines, in its order.
func finish(r *Request, f *headerFields, urlHost string) error {
	h := r.Header
	switch {
	case f.hosts > 1:
		return refuse(http.StatusBadRequest, "several Host headers")
	case f.hosts == 0 && r.ProtoMinor == 1:
		return refuse(http.StatusBadRequest, "missing Host header")
	case f.hosts == 1 && !httpguts.ValidHostHeader(f.host):
		return refuse(http.StatusBadRequest, "malformed Host header")
	}
	r.Host = urlHost
	if r.Host == "" {
		r.Host = f.host
	}

	// net/http adds Cache-Control for an HTTP/1.0 cache's Pragma.
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}

	conn := h["Connection"]
	r.Close = httpguts.HeaderValuesContainsToken(conn, "close") ||
		r.ProtoMinor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")

	chunked := false
	if f.te > 0 {
		switch {
		case r.ProtoMinor == 0:
			// net/http ignores it; a proxy must not guess the body's end.
			return refuse(http.StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request")
		case f.te > 1 || !strings.EqualFold(f.teValue, "chunked"):
			return refuse(http.StatusNotImplemented, "unsupported Transfer-Encoding")
		}
		chunked = true
	}

	cl := h["Content-Length"]
	for _, v := range cl[min(1, len(cl)):] {
		if v != cl[0] {
			return refuse(http.StatusBadRequest, "several different Content-Length headers")
		}
	}
	if len(cl) > 1 {
		h["Content-Length"] = cl[:1] // net/http keeps one
	}
	var n int64
	if len(cl) > 0 {
		var ok bool
		if n, ok = parseLength(cl[0]); !ok {
			return refuse(http.StatusBadRequest, "invalid Content-Length")
		}
	}
	if chunked {
		// net/http drops Content-Length and reads Trailer; either with
		// chunked is a smuggling or trailer trick here.
		if len(cl) > 0 {
			return refuse(http.StatusBadRequest, "both Transfer-Encoding and Content-Length")
		}
		if _, ok := h["Trailer"]; ok {
			return refuse(http.StatusBadRequest, "Trailer header")
		}
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
	} else {
		r.ContentLength = n
	}

	if e, ok := h["Expect"]; ok && (len(e) != 1 || !strings.EqualFold(e[0], "100-continue")) {
		return refuse(http.StatusExpectationFailed, "unsupported Expect")
	}
	return nil
}

// parseLength reads a Content-Length as strconv.ParseUint(v, 10, 63) does.
func parseLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		d := int64(v[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
