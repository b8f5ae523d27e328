package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ConnectError means the API server could not be used at all: unreachable,
// a TLS failure, or credentials it rejects. Its message is one line.
type ConnectError struct {
	Cluster string
	Host    string
	// Reason is the short cause, such as "connection refused".
	Reason string
	Err    error
}

func (e *ConnectError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = e.Err.Error()
	}
	name := e.Cluster
	if name == "" {
		name = "cluster"
	} else {
		name = fmt.Sprintf("cluster %q", name)
	}
	return fmt.Sprintf("%s: %s (%s)", name, reason, e.Host)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// connectError explains why the first request to a server failed.
func connectError(cluster, host string, err error) *ConnectError {
	return &ConnectError{Cluster: cluster, Host: host, Reason: reason(err), Err: err}
}

func reason(err error) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
		netErr    net.Error
	)
	switch {
	case apierrors.IsUnauthorized(err):
		return "the API server rejected the credentials (401 Unauthorized)"
	case apierrors.IsForbidden(err):
		return "the API server forbids discovery to these credentials (403 Forbidden)"
	case errors.As(err, &unknownCA):
		return "TLS failure: the server's certificate is signed by an unknown authority"
	case errors.As(err, &hostname):
		return "TLS failure: " + hostname.Error()
	case errors.As(err, &invalid):
		return "TLS failure: " + invalid.Error()
	case errors.As(err, &verify):
		return "TLS failure: " + verify.Err.Error()
	case errors.As(err, &recordHdr):
		return "TLS failure: the server does not speak TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "cannot reach the API server: connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "cannot reach the API server: timed out"
	case errors.As(err, new(*net.DNSError)):
		return "cannot reach the API server: unknown host"
	case errors.As(err, new(*net.OpError)):
		return "cannot reach the API server: " + err.Error()
	}
	return "cannot use the API server: " + err.Error()
}
