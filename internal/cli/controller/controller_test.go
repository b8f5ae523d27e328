package controller_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/app"
	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--mode", "observe"}, `unknown mode "observe"`},
		{"auto cloud", []string{"--cloud", "auto"}, "--cloud auto is not supported"},
		{"unknown cloud", []string{"--cloud", "moon"}, `unknown cloud "moon"`},
		{"bad endpoint", []string{"--endpoint", "not-an-address"}, "--endpoint"},
		{"opt-out label without value", []string{"--opt-out-label", "imdsguard.io/metadata-access"}, "want KEY=VALUE"},
		{"leader election without namespace", []string{"--namespace", "", "--leader-elect"}, "--leader-elect needs --namespace"},
		{"bad log format", []string{"--leader-elect=false", "--log-format", "xml"}, "--log-format"},
		{"arguments", []string{"extra"}, "unknown command"},
		{"unknown cluster policy", []string{"--leader-elect=false", "--cluster-policy", "cilium"}, "--cluster-policy"},
		{"webhook port out of range", []string{"--leader-elect=false", "--webhook-port", "70000"}, "out of range"},
		{"self-signed webhook without namespace", []string{"--namespace", "", "--leader-elect=false", "--webhook-port", "9443"}, "needs --namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := app.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
				append([]string{"controller"}, tt.args...))
			if code != cli.ExitUsage {
				t.Errorf("exit code %d, want %d; stderr: %s", code, cli.ExitUsage, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tt.want)
			}
		})
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestRunsAgainstAPIServer runs `imdsguard controller` as a user would:
// it protects a new namespace, serves /healthz, /readyz and /metrics,
// writes JSON logs to stderr, and exits 0 when its context ends.
func TestRunsAgainstAPIServer(t *testing.T) {
	env := testenv.Get(t)
	probe, metrics, hook := freeAddr(t), freeAddr(t), freeAddr(t)
	hookHost, hookPort, _ := net.SplitHostPort(hook)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut testenv.Buffer
	done := make(chan int, 1)
	go func() {
		done <- app.Run(ctx, cli.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &errOut}, []string{
			"controller", "--kubeconfig", testenv.Kubeconfig(t, env.Config), "--namespace", "imdsguard-system",
			"--leader-elect", "--leader-election-id", "cli-test",
			"--health-probe-bind-address", probe, "--metrics-bind-address", metrics,
			"--webhook-port", hookPort, "--webhook-host", hookHost, "--webhook-cert-ip", hookHost, "--webhook-config", ""})
	}()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cli-run"}}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "imdsguard-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "the managed policy in cli-run", func() error {
		_, err := env.Clientset.NetworkingV1().NetworkPolicies("cli-run").Get(context.Background(), generate.DefaultName, metav1.GetOptions{})
		return err
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		poll(t, path, func() error { _, err := get("http://" + probe + path); return err })
	}
	var body string
	poll(t, "/metrics with the namespace counted", func() error {
		b, err := get("http://" + metrics + "/metrics")
		body = b
		if err == nil && !strings.Contains(b, `imdsguard_namespaces{state="protected"}`) {
			err = fmt.Errorf("no protected namespaces counted")
		}
		return err
	})
	for _, want := range []string{"imdsguard_reconcile_duration_seconds_bucket", "controller_runtime_reconcile_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// /readyz waited for the webhook's certificate, kept in its Secret.
	conn, err := tls.Dial("tcp", hook, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
	if err != nil {
		t.Fatalf("dialing the webhook: %v", err)
	}
	names := conn.ConnectionState().PeerCertificates[0].DNSNames
	conn.Close()
	if len(names) == 0 || names[0] != "imdsguard-webhook.imdsguard-system.svc" {
		t.Errorf("serving certificate names %v, want the Service's", names)
	}
	if _, err := env.Clientset.CoreV1().Secrets("imdsguard-system").Get(context.Background(), "imdsguard-webhook-cert", metav1.GetOptions{}); err != nil {
		t.Errorf("the certificate Secret: %v", err)
	}
	// The controller's own namespace is exempt.
	if _, err := env.Clientset.NetworkingV1().NetworkPolicies("imdsguard-system").Get(context.Background(), generate.DefaultName, metav1.GetOptions{}); err == nil {
		t.Error("the controller's own namespace got a managed policy")
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d, want 0; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the controller did not stop")
	}
	var sawCreate bool
	for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "wrote managed NetworkPolicy" {
			sawCreate = true
		}
	}
	if !sawCreate {
		t.Errorf("no structured log of the creation; stderr:\n%s", errOut.String())
	}
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

func poll(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: %v", what, err)
}
