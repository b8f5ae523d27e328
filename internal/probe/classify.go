package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

// credentialFields are the JSON keys that carry credentials in the
// services' answers: AWS and Alibaba role credentials, OAuth tokens from
// GCP and Azure.
var credentialFields = map[string]bool{
	"AccessKeyId": true, "SecretAccessKey": true, "Token": true,
	"AccessKeySecret": true, "SecurityToken": true,
	"access_token": true, "refresh_token": true, "id_token": true,
}

// jwtShape matches a bare JSON Web Token, as GCP's identity endpoint
// serves.
var jwtShape = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// classifyAnswer says what an HTTP answer shows. The detail names fields,
// never values.
func classifyAnswer(status int, h http.Header, body []byte) (Class, string) {
	if rule, ok := server.RefusedBy(&http.Response{StatusCode: status, Header: h}); ok {
		return ProxyBlocked, "refused by the imdsguard proxy, rule " + string(rule)
	}
	switch {
	case status >= 200 && status < 300:
		if fields := credentialShape(body); fields != "" {
			return Credentials, "credentials served: " + fields + " (values redacted)"
		}
		return Metadata, "metadata served, no credentials in the answer"
	case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
		return Refused, fmt.Sprintf("refused by the service's token or header rules (HTTP %d)", status)
	case status == http.StatusNotFound:
		return Metadata, "the service answered; nothing at the credential path (HTTP 404)"
	case status >= 300 && status < 400:
		return Metadata, fmt.Sprintf("the service answered with a redirect (HTTP %d), not followed", status)
	case status == http.StatusBadGateway && h.Get(server.MarkerHeader) == server.MarkerUpstream:
		return Failed, "the imdsguard proxy let the request through, the service did not answer"
	}
	return Failed, fmt.Sprintf("unexpected answer (HTTP %d)", status)
}

// credentialShape returns the credential fields an answer holds, comma
// separated, or "" when it holds none.
func credentialShape(body []byte) string {
	b := strings.TrimSpace(string(body))
	if jwtShape.MatchString(b) {
		return "identity token"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(b), &obj) != nil {
		return ""
	}
	var found []string
	for k, v := range obj {
		if credentialFields[k] && string(v) != `""` && string(v) != "null" {
			found = append(found, k)
		}
	}
	sort.Strings(found)
	return strings.Join(found, ", ")
}

// classifyError says why an exchange got no answer. The detail is ours,
// not the error's text, which could echo a target the user wants kept out
// of a short message.
func classifyError(err error, connected bool) (Class, string) {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return DNSFailure, fmt.Sprintf("name %q does not resolve", dns.Name)
		}
		return DNSFailure, fmt.Sprintf("name %q could not be resolved", dns.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return ConnRefused, "connection refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return Failed, "no route to the endpoint"
	case isTimeout(err) && !connected:
		return Timeout, "no TCP connection before the deadline"
	case isTimeout(err):
		return Timeout, "connected, no answer before the deadline"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Failed, "connection reset"
	}
	return Failed, "no answer: " + errorKind(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// errorKind names an error by its innermost cause, bounded in length.
func errorKind(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}
