package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure Run. Zero values mean the defaults.
type Options struct {
	// Targets maps a check ID or an endpoint ID to the "host:port" to
	// connect to instead of the real address; a check ID wins. The request
	// still names the real host, so a proxy in between judges it as it
	// would the real thing. Tests point every check at loopback.
	Targets map[string]string
	// Only runs just these checks (IDs); empty runs all.
	Only []string
	// DialTimeout bounds one connection attempt (default 2s).
	DialTimeout time.Duration
	// Timeout bounds one check, all its requests together (default 5s).
	Timeout time.Duration
	// Dial connects; the default is a net.Dialer with DialTimeout and
	// Resolver.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver resolves names (default: the system's).
	Resolver *net.Resolver
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.DialTimeout, Resolver: o.Resolver}
		o.Dial = d.DialContext
	}
	return o
}

// Target returns where a check connects under o.
func (o Options) Target(c Check) string {
	if t, ok := o.Targets[c.ID]; ok {
		return t
	}
	if t, ok := o.Targets[c.Endpoint]; ok {
		return t
	}
	return c.Host + ":80"
}

// Validate reports unknown check and endpoint IDs in o.
func (o Options) Validate() error {
	known := map[string]bool{}
	for _, c := range Checks() {
		known[c.ID], known[c.Endpoint] = true, true
	}
	var errs []error
	for k := range o.Targets {
		if !known[k] {
			errs = append(errs, fmt.Errorf("target %q: no check or endpoint has that ID", k))
		}
	}
	for _, k := range o.Only {
		if !slices.ContainsFunc(Checks(), func(c Check) bool { return c.ID == k }) {
			errs = append(errs, fmt.Errorf("check %q: no such check", k))
		}
	}
	return errors.Join(errs...)
}

// Run runs the checks side by side and returns their results in check
// order. It never returns a secret: answers are classified and dropped.
func Run(ctx context.Context, o Options) *Report {
	o = o.withDefaults()
	var checks []Check
	for _, c := range Checks() {
		if len(o.Only) == 0 || slices.Contains(o.Only, c.ID) {
			checks = append(checks, c)
		}
	}
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			s := newSession(c, o)
			defer s.close()
			results[i] = c.run(cctx, s)
		})
	}
	wg.Wait()
	return &Report{Version: ReportVersion, Results: results}
}

// maxBody bounds what is read of an answer: enough for any credential
// document, never a flood.
const maxBody = 64 << 10

// session is one check's client: every connection goes to the check's
// target, whatever the URL says.
type session struct {
	check  Check
	target string
	client *http.Client
	// connected is set once a connection succeeded, to tell a connect
	// timeout from a silent server.
	connected atomic.Bool
}

func newSession(c Check, o Options) *session {
	s := &session{check: c, target: o.Target(c)}
	tr := &http.Transport{
		Proxy: nil, // a probe asks directly, whatever the environment says
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
			defer cancel()
			conn, err := o.Dial(dctx, network, s.target)
			if err == nil {
				s.connected.Store(true)
			}
			return conn, err
		},
		DisableCompression: true,
		MaxIdleConns:       1,
	}
	s.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return s
}

func (s *session) close() { s.client.CloseIdleConnections() }

// answer is one HTTP exchange: a status and a bounded body, or, when the
// exchange failed, the result that says how.
type answer struct {
	status int
	header http.Header
	body   []byte
	result *Result
}

func (s *session) do(ctx context.Context, method, path string, h http.Header) answer {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.check.Host+path, nil)
	if err != nil {
		r := s.result(Failed, 0, "building request: "+err.Error())
		return answer{result: &r}
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", "imdsguard-probe")
	resp, err := s.client.Do(req)
	if err != nil {
		r := s.failure(err)
		return answer{result: &r}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		r := s.failure(err)
		return answer{result: &r}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

func (s *session) result(c Class, status int, detail string) Result {
	return Result{Check: s.check.ID, Endpoint: s.check.Endpoint, Target: s.target, Class: c, Status: status, Detail: detail}
}

// answer classifies an HTTP answer.
func (s *session) answer(a answer) Result {
	if a.result != nil {
		return *a.result
	}
	c, detail := classifyAnswer(a.status, a.header, a.body)
	return s.result(c, a.status, detail)
}

// failure classifies an exchange that got no HTTP answer.
func (s *session) failure(err error) Result {
	c, detail := classifyError(err, s.connected.Load())
	return s.result(c, 0, detail)
}
