package probe

// Class is what a check's answer shows.
type Class string

// The classes, from worst to safest.
const (
	// Credentials: the service handed out credentials (recognised by the
	// shape of the answer, never kept).
	Credentials Class = "credentials"
	// Metadata: the service answered, but not with credentials.
	Metadata Class = "metadata"
	// Refused: the service refused by its own token or header rules
	// (HTTP 400, 401 or 403).
	Refused Class = "refused"
	// ProxyBlocked: the imdsguard proxy refused the request.
	ProxyBlocked Class = "proxy-blocked"
	// Timeout: no connection, or no answer, before the deadline.
	Timeout Class = "timeout"
	// ConnRefused: the connection was actively refused.
	ConnRefused Class = "connection-refused"
	// DNSFailure: the endpoint's name did not resolve.
	DNSFailure Class = "dns-failure"
	// Failed: anything else (a network error of another kind, an HTTP
	// status the services do not use for refusals).
	Failed Class = "error"
)

// Reached reports whether the answer came from the metadata service (or
// the proxy in front of it): something on the datapath let the request
// through.
func (c Class) Reached() bool {
	switch c {
	case Credentials, Metadata, Refused:
		return true
	}
	return false
}
