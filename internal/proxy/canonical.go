package proxy

import (
	"net/url"
	"strings"
)

// Limits on what the canonicaliser reads. Metadata requests are short; a
// long one is an attack or a mistake.
const (
	maxTargetBytes = 2048
	maxQueryParams = 16
)

// Param is one query parameter, decoded.
type Param struct {
	Key, Value string
	// HasValue is false for a bare key ("?recursive").
	HasValue bool
}

// Target is a request-target in canonical form: decoded exactly once and
// checked, so that what is matched is what is forwarded.
type Target struct {
	// Authority is the host of an absolute-form target ("" for origin-form).
	Authority string
	// Path is the decoded path. It holds only characters that need no
	// escaping, so it is also the path to forward.
	Path   string
	Params []Param
}

// RequestURI renders the target to forward upstream: path and re-encoded
// query, never the bytes the client sent.
func (t Target) RequestURI() string {
	if len(t.Params) == 0 {
		return t.Path
	}
	var b strings.Builder
	b.WriteString(t.Path)
	for i, p := range t.Params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p.Key)
		if p.HasValue {
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(p.Value))
		}
	}
	return b.String()
}

// Param returns the value of the first parameter whose key equals key
// without regard to case.
func (t Target) Param(key string) (Param, bool) {
	for _, p := range t.Params {
		if strings.EqualFold(p.Key, key) {
			return p, true
		}
	}
	return Param{}, false
}

// Canonicalise checks a raw request-target (as sent on the request line)
// and returns its canonical form, or the refusal that names what is wrong.
//
// It decodes percent-encoding once. Anything that decodes to a separator or
// an escape character (/, ., \, %, NUL and other controls) is refused, as is
// every form that servers disagree on: double slashes, dot segments,
// backslashes, path parameters, fragments and non-ASCII bytes.
func Canonicalise(raw string) (Target, *Refusal) {
	var t Target
	if len(raw) > maxTargetBytes {
		return t, refuse(RuleOversized, "request-target longer than %d bytes", maxTargetBytes)
	}
	rest := raw
	if !strings.HasPrefix(rest, "/") {
		const scheme = "http://"
		if len(rest) < len(scheme) || !strings.EqualFold(rest[:len(scheme)], scheme) {
			return t, refuse(RuleTarget, "request-target is neither origin-form nor http absolute-form")
		}
		rest = rest[len(scheme):]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		t.Authority, rest = rest[:end], rest[end:]
		if t.Authority == "" || strings.ContainsAny(t.Authority, "@%\\") {
			return t, refuse(RuleTarget, "absolute-form authority %q", t.Authority)
		}
		if rest == "" || rest[0] != '/' {
			return t, refuse(RuleTarget, "absolute-form target without a path")
		}
	}
	if strings.IndexByte(rest, '#') >= 0 {
		return t, refuse(RuleTarget, "fragment in the request-target")
	}
	rawPath, rawQuery, hasQuery := strings.Cut(rest, "?")
	p, r := decodePath(rawPath)
	if r != nil {
		return t, r
	}
	t.Path = p
	if hasQuery && rawQuery != "" {
		params, r := decodeQuery(rawQuery)
		if r != nil {
			return t, r
		}
		t.Params = params
	}
	return t, nil
}

// pathByte reports whether c may appear in a decoded path. Metadata paths
// need letters, digits and a few punctuation marks; none of these needs
// escaping in a path, so the decoded path can be forwarded as it is.
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.~/:@+,=", c) >= 0
}

func decodePath(raw string) (string, *Refusal) {
	var b []byte // nil until the first escape: most paths have none
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			d, ok := unhex(raw, i)
			if !ok {
				return "", refuse(RuleEncoding, "bad percent-escape at byte %d", i)
			}
			switch d {
			case '/', '\\':
				return "", refuse(RuleEncodedSeparator, "percent-encoded %q in the path", string(rune(d)))
			case '.':
				return "", refuse(RuleEncodedSeparator, "percent-encoded \".\" in the path")
			case '%':
				return "", refuse(RuleEncoding, "double percent-encoding in the path")
			}
			if !pathByte(d) {
				return "", refuse(RuleEncoding, "percent-encoded byte 0x%02x in the path", d)
			}
			if b == nil {
				b = append(make([]byte, 0, len(raw)), raw[:i]...)
			}
			b = append(b, d)
			i += 2
			continue
		}
		if c == '\\' {
			return "", refuse(RuleEncodedSeparator, "backslash in the path")
		}
		if !pathByte(c) {
			return "", refuse(RuleCharacter, "byte 0x%02x in the path", c)
		}
		if b != nil {
			b = append(b, c)
		}
	}
	p := raw
	if b != nil {
		p = string(b)
	}
	if strings.Contains(p, "//") {
		return "", refuse(RuleDoubleSlash, "empty path segment")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "", refuse(RuleDotSegment, "dot segment %q", seg)
		}
	}
	return p, nil
}

func decodeQuery(raw string) ([]Param, *Refusal) {
	pieces := strings.Split(raw, "&")
	if len(pieces) > maxQueryParams {
		return nil, refuse(RuleQuery, "more than %d query parameters", maxQueryParams)
	}
	out := make([]Param, 0, len(pieces))
	for _, piece := range pieces {
		k, v, hasValue := strings.Cut(piece, "=")
		if !queryKey(k) {
			return nil, refuse(RuleQuery, "query key %q", k)
		}
		for _, p := range out {
			if strings.EqualFold(p.Key, k) {
				return nil, refuse(RuleQuery, "repeated query key %q", k)
			}
		}
		dv, r := decodeQueryValue(v)
		if r != nil {
			return nil, r
		}
		out = append(out, Param{Key: k, Value: dv, HasValue: hasValue})
	}
	return out, nil
}

func queryKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// decodeQueryValue decodes a value once. "+" is refused rather than guessed
// at: form encoding reads it as a space, RFC 3986 as a plus.
func decodeQueryValue(raw string) (string, *Refusal) {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			d, ok := unhex(raw, i)
			if !ok {
				return "", refuse(RuleEncoding, "bad percent-escape in the query")
			}
			if d == '%' || d <= ' ' || d >= 0x7f || d == '\\' || d == '+' || d == '&' || d == '=' || d == '#' || d == '?' {
				return "", refuse(RuleQuery, "percent-encoded byte 0x%02x in the query", d)
			}
			b.WriteByte(d)
			i += 2
			continue
		}
		if c <= ' ' || c >= 0x7f || c == '+' || c == '\\' || c == ';' || c == '?' || c == '=' {
			return "", refuse(RuleQuery, "byte 0x%02x in the query", c)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func unhex(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := fromHex(s[i+1])
	lo, ok2 := fromHex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
