package wire

import (
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// isToken reports whether s is an RFC 9110 token, as net/http requires of
// methods and header names.
func isToken(s string) bool {
	return s != "" && httpguts.ValidHeaderFieldName(s)
}

// interned holds the canonical keys that clients of a metadata service send
// in other spellings, so that those cost no allocation.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type",
		"Expect", "Host", "Keep-Alive", "Metadata", "Metadata-Flavor", "Pragma",
		"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent",
		"X-Aws-Ec2-Metadata-Token", "X-Aws-Ec2-Metadata-Token-Ttl-Seconds",
		"X-Forwarded-For", "X-Google-Metadata-Request", "X-Ms-Client-Request-Id",
		"X-Amz-Date", "Amz-Sdk-Invocation-Id", "Amz-Sdk-Request",
	} {
		k = textproto.CanonicalMIMEHeaderKey(k)
		m[k] = k
	}
	return m
}()

// canonicalKey returns textproto.CanonicalMIMEHeaderKey(k) for a token k,
// allocating only for a key that is neither canonical nor interned.
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return recase(k)
		}
		upper = c == '-'
	}
	return k
}

func recase(k string) string {
	var small [64]byte
	if len(k) > len(small) {
		return textproto.CanonicalMIMEHeaderKey(k)
	}
	b := small[:len(k)]
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if s, ok := interned[string(b)]; ok {
		return s
	}
	return string(b)
}
