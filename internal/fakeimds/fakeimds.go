package fakeimds

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/imdsguard/imdsguard/internal/endpoints"
)

// SecretMarker starts every secret the fakes serve: credentials, tokens,
// user-data, kube-env.
const SecretMarker = "FAKE-SECRET-"

// Values the fakes serve for safe paths.
const (
	InstanceID = "i-0fake0000000000001"
	Region     = "eu-west-1"
	AMIID      = "ami-0fake000000000001"
	Project    = "fake-project"
	Zone       = "projects/123/zones/europe-west1-b"
	Name       = "fake-node-1"
	Location   = "westeurope"
)

// Options adjust a fake.
type Options struct {
	// RequireIMDSv2 makes the AWS fake refuse reads without a token, like
	// http_tokens=required.
	RequireIMDSv2 bool
	// Now is the clock for token expiry (default time.Now).
	Now func() time.Time
}

// Server is a fake metadata service. It records how many requests reached
// it, so a test can tell a refusal by the proxy from one by the service.
type Server struct {
	cloud endpoints.Cloud
	opts  Options
	mu    sync.Mutex
	// tokens maps an IMDSv2 token to its expiry.
	tokens   map[string]time.Time
	requests int
	mux      *http.ServeMux
}

// New returns a fake for cloud: endpoints.AWS, GCP, Azure or Alibaba.
func New(cloud endpoints.Cloud, o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{cloud: cloud, opts: o, tokens: map[string]time.Time{}, mux: http.NewServeMux()}
	switch cloud {
	case endpoints.AWS:
		s.aws()
	case endpoints.GCP:
		s.gcp()
	case endpoints.Azure:
		s.azure()
	case endpoints.Alibaba:
		s.alibaba()
	}
	return s
}

// Requests returns how many requests the fake has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	// The real services refuse requests that came through a proxy.
	if r.Header.Get("X-Forwarded-For") != "" {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func text(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	}
}

func (s *Server) aws() {
	s.mux.HandleFunc("PUT /latest/api/token", s.awsToken)
	for path, body := range map[string]string{
		"/latest/meta-data/instance-id":                                                InstanceID,
		"/latest/meta-data/placement/region":                                           Region,
		"/latest/meta-data/ami-id":                                                     AMIID,
		"/latest/meta-data/local-ipv4":                                                 "10.0.0.10",
		"/latest/meta-data/iam/security-credentials/":                                  "node-role",
		"/latest/meta-data/iam/security-credentials/node-role":                         `{"AccessKeyId":"` + SecretMarker + `AKIA","SecretAccessKey":"` + SecretMarker + `key"}`,
		"/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance": `{"AccessKeyId":"` + SecretMarker + `ec2"}`,
		"/latest/user-data":                                                            "#!/bin/sh\n# " + SecretMarker + "bootstrap-token\n",
	} {
		s.mux.Handle("GET "+path, s.awsRead(text(body)))
	}
}

// awsToken issues an IMDSv2 session token for the requested TTL.
func (s *Server) awsToken(w http.ResponseWriter, r *http.Request) {
	ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
	if err != nil || ttl < 1 || ttl > 21600 {
		http.Error(w, "bad ttl", http.StatusBadRequest)
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "AQAE" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(time.Duration(ttl) * time.Second)
	s.mu.Unlock()
	w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
	_, _ = w.Write([]byte(tok))
}

// awsRead checks a read's token: a present token must be valid and live;
// none is IMDSv1, refused when v2 is required.
func (s *Server) awsRead(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-aws-ec2-metadata-token")
		if tok == "" {
			if s.opts.RequireIMDSv2 {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !s.opts.Now().Before(exp) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) gcp() {
	for path, body := range map[string]string{
		"/computeMetadata/v1/project/project-id":                         Project,
		"/computeMetadata/v1/instance/zone":                              Zone,
		"/computeMetadata/v1/instance/name":                              Name,
		"/computeMetadata/v1/instance/service-accounts/default/token":    `{"access_token":"` + SecretMarker + `ya29","expires_in":3599}`,
		"/computeMetadata/v1/instance/service-accounts/default/identity": SecretMarker + "jwt",
		"/computeMetadata/v1/instance/attributes/kube-env":               "KUBELET_CERT: " + SecretMarker + "cert\n",
	} {
		s.mux.Handle("GET "+path, gcpHeader(text(body)))
	}
	s.mux.Handle("GET /computeMetadata/v1/instance/", gcpHeader(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/computeMetadata/v1/instance/" && r.URL.Query().Get("recursive") == "true" {
			text(`{"attributes":{"kube-env":"`+SecretMarker+`cert"},"zone":"`+Zone+`"}`)(w, r)
			return
		}
		http.NotFound(w, r)
	})))
	// The legacy endpoints need no header, which is why the proxy refuses them.
	s.mux.Handle("GET /computeMetadata/v1beta1/instance/service-accounts/default/token", text(SecretMarker+"legacy-token"))
	s.mux.Handle("GET /0.1/meta-data/service-accounts/default/acquire", text(SecretMarker+"legacy-token"))
}

func gcpHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) azure() {
	s.mux.Handle("GET /metadata/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
			http.Error(w, `{"error":"Bad request. Required metadata header not specified"}`, http.StatusBadRequest)
			return
		}
		switch strings.ToLower(r.URL.Path) { // Azure matches paths without regard to case
		case "/metadata/instance/compute/location":
			text(Location)(w, r)
		case "/metadata/instance/compute/name":
			text(Name)(w, r)
		case "/metadata/instance/compute/userdata":
			text(SecretMarker+"userdata")(w, r)
		case "/metadata/instance/compute":
			text(`{"location":"`+Location+`","userData":"`+SecretMarker+`userdata"}`)(w, r)
		case "/metadata/identity/oauth2/token":
			text(`{"access_token":"`+SecretMarker+`eyJ0"}`)(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
}

func (s *Server) alibaba() {
	for path, body := range map[string]string{
		"/latest/meta-data/instance-id":                            InstanceID,
		"/latest/meta-data/region-id":                              Region,
		"/latest/meta-data/ram/security-credentials/":              "node-ram-role",
		"/latest/meta-data/ram/security-credentials/node-ram-role": `{"AccessKeyId":"` + SecretMarker + `LTAI","AccessKeySecret":"` + SecretMarker + `secret","SecurityToken":"` + SecretMarker + `sts","Code":"Success"}`,
	} {
		s.mux.Handle("GET "+path, text(body))
	}
}

// NewWireServer returns a fake Azure WireServer (168.63.129.16): it lists
// the protocol versions it speaks, as the real one does at /?comp=versions.
func NewWireServer() *Server {
	s := &Server{cloud: endpoints.Azure, opts: Options{Now: time.Now}, tokens: map[string]time.Time{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("comp") != "versions" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><Versions><Preferred><Version>2015-04-05</Version></Preferred></Versions>`))
	})
	return s
}
