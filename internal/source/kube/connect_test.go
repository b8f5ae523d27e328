package kube_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestConnectErrors checks the one-line error for each way a server can be
// unusable, against real loopback servers.
func TestConnectErrors(t *testing.T) {
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are expected
	untrusted.StartTLS()
	defer untrusted.Close()
	stop := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	defer silent.Close()
	defer close(stop)
	tests := []struct {
		name string
		cfg  func(t *testing.T) *rest.Config
		want string
	}{
		{"closed port", func(t *testing.T) *rest.Config { return &rest.Config{Host: "https://" + closedPort(t)} },
			"cannot reach the API server: connection refused"},
		{"untrusted certificate", func(*testing.T) *rest.Config { return &rest.Config{Host: untrusted.URL} },
			"TLS failure: the server's certificate is signed by an unknown authority"},
		{"no answer", func(*testing.T) *rest.Config { return &rest.Config{Host: silent.URL} },
			"cannot reach the API server: timed out"},
		{"bad token", func(t *testing.T) *rest.Config { return testenv.Get(t).TokenConfig("wrong") },
			"the API server rejected the credentials (401 Unauthorized)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			start := time.Now()
			_, err := kube.Load(context.Background(), cfg, kube.Options{Cluster: "prod", RequestTimeout: time.Second})
			var ce *kube.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a ConnectError", err)
			}
			msg := err.Error()
			want := `cluster "prod": ` + tt.want + " (" + cfg.Host + ")"
			if msg != want {
				t.Errorf("got  %q\nwant %q", msg, want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message has several lines: %q", msg)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
