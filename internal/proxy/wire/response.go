package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// MaxResponseHead is the longest response head read.
const MaxResponseHead = 16 << 10

// Response is a parsed response head.
type Response struct {
	StatusCode int
	Reason     string      // the reason phrase as sent
	Header     http.Header // canonical keys; the caller's map, cleared and reused
	// Body framing, as RFC 9112 section 6.3 and net/http's ReadResponse
	// decide it for the request method given. NoBody comes first: when it is
	// set no body follows, whatever the other fields say.
	//
	// ContentLength is -1 when the length is not known from the head
	// (chunked, or until close). As in net/http, a response to HEAD reports
	// the Content-Length it announces (-1 without one) and a 204 or 304
	// reports 0.
	ContentLength int64
	Chunked       bool // Transfer-Encoding: chunked
	NoBody        bool // HEAD, 204, 304: no body whatever the head says
	// Close is set when the service closes the connection after this
	// response: Connection: close, HTTP/1.0 without keep-alive, or a body
	// delimited by the close.
	Close bool
}

// ParseResponse parses the response head at the start of buf, for a request
// with method method, and returns the head's length. It returns ErrIncomplete
// when buf holds no whole head yet, and another error for a head that is
// malformed or longer than MaxResponseHead.
//
// It is stricter than net/http: only HTTP/1.0 and 1.1, lines end in CRLF,
// no obs-fold, no space before a colon, no interim (1xx) response (the
// proxy never sends Expect, so one is unexpected), and Transfer-Encoding
// together with Content-Length, or in an HTTP/1.0 response, is refused.
func ParseResponse(buf []byte, method string, r *Response) (int, error) {
	end, lines, err := headEnd(buf)
	if err == ErrIncomplete {
		// Fail early on a whole status line that is malformed.
		if line, _, ok := bytes.Cut(buf, []byte("\r\n")); ok {
			if _, _, _, err := parseStatusLine(string(line)); err != nil {
				return 0, err
			}
		}
	}
	if err != nil {
		return 0, err
	}
	// One string for the whole head: every key, value and the reason are
	// slices of it, so a head costs a few allocations whatever its size.
	head := string(buf[:end])

	line, rest, _ := strings.Cut(head, "\r\n")
	minor, code, reason, err := parseStatusLine(line)
	if err != nil {
		return 0, err
	}
	if code < 200 {
		return 0, fmt.Errorf("unexpected interim response %d", code)
	}

	if r.Header == nil {
		r.Header = make(http.Header, lines)
	} else {
		clear(r.Header)
	}
	h := r.Header
	// One array for all values; a key seen again appends past its slice.
	vals := make([]string, lines)
	for {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if line == "" {
			break
		}
		key, value, err := parseResponseField(line)
		if err != nil {
			return 0, err
		}
		if vv := h[key]; vv != nil {
			h[key] = append(vv, value)
		} else {
			vals[0] = value
			h[key], vals = vals[:1:1], vals[1:]
		}
	}

	*r = Response{StatusCode: code, Reason: reason, Header: h}
	if err := r.frame(minor, method); err != nil {
		return 0, err
	}
	return end, nil
}

// headEnd returns the length of the head at the start of buf and how many
// header lines it has. A line ending in a bare LF is an error as soon as it
// is seen.
func headEnd(buf []byte) (end, fields int, err error) {
	limit := min(len(buf), MaxResponseHead)
	start := 0
	for {
		i := bytes.IndexByte(buf[start:limit], '\n')
		if i < 0 {
			if len(buf) >= MaxResponseHead {
				return 0, 0, fmt.Errorf("response head longer than %d bytes", MaxResponseHead)
			}
			return 0, 0, ErrIncomplete
		}
		if i == 0 || buf[start+i-1] != '\r' {
			return 0, 0, errors.New("response head line ends in a bare LF")
		}
		switch {
		case start == 0: // the status line
		case i == 1:
			return start + 2, fields, nil
		default:
			fields++
		}
		start += i + 1
	}
}

// parseStatusLine parses "HTTP/1.x ddd reason" (the reason may be absent).
func parseStatusLine(line string) (minor, code int, reason string, err error) {
	if len(line) < 12 || line[:7] != "HTTP/1." || line[8] != ' ' {
		return 0, 0, "", fmt.Errorf("malformed status line %q", line)
	}
	switch line[7] {
	case '0', '1':
		minor = int(line[7] - '0')
	default:
		return 0, 0, "", fmt.Errorf("unsupported protocol version %q", line[:8])
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, "", fmt.Errorf("malformed status code %q", line[9:12])
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		return 0, 0, "", fmt.Errorf("status code %d out of range", code)
	}
	if len(line) > 12 {
		if line[12] != ' ' {
			return 0, 0, "", fmt.Errorf("malformed status code %q", line[9:])
		}
		reason = line[13:]
		if !httpguts.ValidHeaderFieldValue(reason) {
			return 0, 0, "", fmt.Errorf("invalid byte in reason phrase %q", reason)
		}
	}
	return minor, code, reason, nil
}

// parseResponseField parses one header line into its canonical key and its value
// without surrounding whitespace.
func parseResponseField(line string) (key, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", fmt.Errorf("obsolete line folding in header line %q", line)
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", fmt.Errorf("header line without colon %q", line)
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return "", "", fmt.Errorf("invalid header name %q", name)
	}
	if !httpguts.ValidHeaderFieldValue(value) {
		return "", "", fmt.Errorf("invalid byte in value of header %q", name)
	}
	if !isCanonical(name) {
		name = http.CanonicalHeaderKey(name)
	}
	return name, trimOWS(value), nil
}

// isCanonical reports whether a valid header name is already in the form
// http.CanonicalHeaderKey gives, so that it need not be copied.
func isCanonical(name string) bool {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// frame sets the body framing fields from the parsed header, for a response
// of HTTP/1.minor to a request with method method.
func (r *Response) frame(minor int, method string) error {
	h := r.Header
	if te, ok := h["Transfer-Encoding"]; ok {
		if minor == 0 {
			return errors.New("transfer-encoding in an HTTP/1.0 response")
		}
		if len(te) != 1 || !asciiEqualFold(te[0], "chunked") {
			return fmt.Errorf("unsupported transfer-encoding %q", te)
		}
		r.Chunked = true
	}

	length := int64(-1)
	if cl, ok := h["Content-Length"]; ok {
		if r.Chunked {
			// RFC 9112 section 6.3 lets Transfer-Encoding win, but says the
			// message ought to be handled as an error; we do.
			return errors.New("both transfer-encoding and content-length")
		}
		for _, v := range cl[1:] {
			if v != cl[0] {
				return fmt.Errorf("differing content-length values %q", cl)
			}
		}
		n, err := parseContentLength(cl[0])
		if err != nil {
			return err
		}
		length = n
	}

	// net/http refuses a chunked response whose Trailer header names one of
	// these; we refuse it in any response.
	for _, v := range h["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = trimOWS(name)
			for _, bad := range []string{"Transfer-Encoding", "Content-Length", "Trailer"} {
				if asciiEqualFold(name, bad) {
					return fmt.Errorf("trailer header names %s", bad)
				}
			}
		}
	}

	conn := h["Connection"]
	r.Close = httpguts.HeaderValuesContainsToken(conn, "close") ||
		minor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")

	r.NoBody = method == http.MethodHead || r.StatusCode == 204 || r.StatusCode == 304
	switch {
	case method == http.MethodHead:
		r.ContentLength = length
	case r.NoBody:
		r.ContentLength = 0
	case r.Chunked:
		r.ContentLength = -1
	default:
		r.ContentLength = length
		if length < 0 {
			r.Close = true // the body ends when the connection does
		}
	}
	return nil
}

// parseContentLength parses a Content-Length value: decimal digits only.
func parseContentLength(v string) (int64, error) {
	if v == "" {
		return 0, errors.New("empty content-length")
	}
	var n int64
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("malformed content-length %q", v)
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("content-length %q too large", v)
		}
		n = n*10 + d
	}
	return n, nil
}

// trimOWS removes the spaces and tabs around s.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// asciiEqualFold is strings.EqualFold for ASCII only: no Unicode folding
// may turn a non-ASCII byte into a token's letter.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

const (
	// maxChunkLine bounds a chunk-size line, CRLF included. net/http allows
	// up to its 4 KiB read buffer; a metadata service sends no extensions.
	maxChunkLine = 1 << 10
	// maxTrailer bounds the trailer section, the final CRLF included (net/http:
	// its 4 KiB read buffer).
	maxTrailer = 2 << 10
	// maxOverhead bounds the framing bytes not paid for by data, as net/http
	// does against a body of tiny chunks with long extensions: each chunk
	// may use 16 bytes plus twice its size.
	maxOverhead = 16 << 10
)

// Chunked decodes a chunked body incrementally. Its zero value is ready.
type Chunked struct {
	state    chunkState
	left     int64 // data bytes left in the current chunk
	overhead int64 // framing bytes beyond what the data allows, as in maxOverhead
	trailer  int   // bytes of trailer section read
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // before a chunk-size line
	chunkData                      // in a chunk's data
	chunkDataEnd                   // before the CRLF after a chunk's data
	chunkTrailer                   // before a trailer line or the final CRLF
	chunkDone
)

// Decode consumes bytes of a chunked body from in, appends the data it holds
// to out, and returns out, the number of bytes of in consumed, and whether
// the body (including the last chunk and trailers) is complete. It never
// consumes past the end of the body, so bytes after it (a next response) stay
// unconsumed. Call again with more input when not done; bytes not consumed
// must be passed again (a partial chunk-size line, for example). Chunk
// extensions are ignored; trailers are read and dropped. Malformed framing is
// an error.
func (c *Chunked) Decode(in, out []byte) (newOut []byte, consumed int, done bool, err error) {
	i := 0
	for c.state != chunkDone {
		switch c.state {
		case chunkSize:
			line, n, err := chunkLine(in[i:], maxChunkLine)
			if err != nil || n == 0 {
				return out, i, false, err
			}
			size, err := c.parseSize(line)
			if err != nil {
				return out, i, false, err
			}
			i += n
			if size == 0 {
				c.state = chunkTrailer
			} else {
				c.left, c.state = size, chunkData
			}
		case chunkData:
			if i == len(in) {
				return out, i, false, nil
			}
			k := int(min(c.left, int64(len(in)-i)))
			out = append(out, in[i:i+k]...)
			i += k
			c.left -= int64(k)
			if c.left == 0 {
				c.state = chunkDataEnd
			}
		case chunkDataEnd:
			switch {
			case i == len(in) || i+1 == len(in) && in[i] == '\r':
				return out, i, false, nil
			case in[i] != '\r' || in[i+1] != '\n':
				return out, i, false, errors.New("chunk data not followed by CRLF")
			}
			i += 2
			c.state = chunkSize
		case chunkTrailer:
			line, n, err := chunkLine(in[i:], maxTrailer-c.trailer)
			if err != nil || n == 0 {
				if err != nil {
					err = fmt.Errorf("trailer: %w", err)
				}
				return out, i, false, err
			}
			if len(line) > 0 {
				if err := checkTrailerField(line); err != nil {
					return out, i, false, err
				}
			} else {
				c.state = chunkDone
			}
			i += n
			c.trailer += n
		}
	}
	return out, i, true, nil
}

// Reset makes c ready for a new body.
func (c *Chunked) Reset() { *c = Chunked{} }

// chunkLine returns the line at the start of b without its CRLF and its
// length with the CRLF, or n == 0 when the line is not whole yet. A line
// longer than max, CRLF included, is an error.
func chunkLine(b []byte, max int) (line []byte, n int, err error) {
	i := bytes.IndexByte(b[:min(len(b), max)], '\n')
	if i < 0 {
		if len(b) >= max {
			return nil, 0, errors.New("line too long")
		}
		return nil, 0, nil
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, 0, errors.New("line ends in a bare LF")
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, errors.New("CR inside a line")
	}
	return line, i + 1, nil
}

// parseSize parses a chunk-size line: hex digits, then optional extensions
// after ';' (ignored), then optional whitespace.
func (c *Chunked) parseSize(line []byte) (int64, error) {
	c.overhead += int64(len(line)) + 2 // the line's CRLF and the one after the data
	s := bytes.TrimRight(line, " \t")
	var size int64
	digits := 0
	for ; digits < len(s) && hexValue(s[digits]) >= 0; digits++ {
		// 16 digits at most, as net/http; and no size that could make
		// 2*size, or the overhead, overflow.
		if digits == 16 || size >= 1<<58 {
			return 0, fmt.Errorf("chunk size %q too large", s)
		}
		size = size<<4 | int64(hexValue(s[digits]))
	}
	if digits == 0 {
		return 0, fmt.Errorf("malformed chunk size line %q", line)
	}
	if ext := s[digits:]; len(ext) > 0 {
		// An extension; net/http allows no whitespace before the ';'.
		if ext[0] != ';' || !httpguts.ValidHeaderFieldValue(string(ext)) {
			return 0, fmt.Errorf("malformed chunk size line %q", line)
		}
	}
	c.overhead = max(c.overhead-16-2*size, 0)
	if c.overhead > maxOverhead {
		return 0, errors.New("chunked body has too much framing for its data")
	}
	return size, nil
}

func hexValue(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// checkTrailerField checks one trailer line as a header line.
func checkTrailerField(line []byte) error {
	if _, _, err := parseResponseField(string(line)); err != nil {
		return fmt.Errorf("trailer: %w", err)
	}
	return nil
}
