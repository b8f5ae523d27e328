package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestCommandWithCluster runs the command against a real API server: the
// pod behind 127.0.0.1 (its status says so) selects a profile by
// annotation, gets what the profile grants, and is named in the log.
func TestCommandWithCluster(t *testing.T) {
	env := testenv.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := env.Clientset
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "proxy-agents"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cni-7x", Namespace: "proxy-agents", Annotations: map[string]string{proxy.DefaultProfileAnnotation: "node-agents"}},
		Spec:       corev1.PodSpec{NodeName: "node-p", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	created, err := cs.CoreV1().Pods("proxy-agents").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}
	if _, err := cs.CoreV1().Pods("proxy-agents").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	cfgFile := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(cfgFile, []byte(`apiVersion: imdsguard.io/v1alpha1
kind: ProxyConfig
cloud: aws
profiles:
- name: node-agents
  namespaces: [proxy-agents]
  grants: [aws-credentials]
  reason: the CNI reads the node role
`), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(fakeimds.New(endpoints.AWS, fakeimds.Options{}))
	defer fake.Close()

	addr := make(chan net.Addr, 1)
	d := realDeps()
	d.ready = func(a net.Addr) { addr <- a }
	f := &flags{maxPerSource: server.DefaultMaxConnsPerSource, ioURing: true, config: cfgFile, upstream: fake.URL, listen: "127.0.0.1:0", metricsAddr: "0", redirect: false,
		onExit: onExitKeepDrop, logFormat: "json", logLevel: "info", nodeName: "node-p", kubeconfig: testenv.Kubeconfig(t, env.Config)}
	logs := &testenv.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cli.Streams{Out: io.Discard, ErrOut: logs}, f, false, d) }()
	var proxyAddr net.Addr
	select {
	case proxyAddr = <-addr:
	case err := <-done:
		t.Fatalf("proxy stopped: %v\n%s", err, logs)
	}

	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+proxyAddr.String()+path, nil)
		req.Host = "169.254.169.254"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/latest/meta-data/iam/security-credentials/node-role"); code != 200 || !strings.Contains(body, fakeimds.SecretMarker) {
		t.Fatalf("the profile should grant credentials: %d %q\n%s", code, body, logs)
	}
	if code, _ := get("/latest/user-data"); code != 403 {
		t.Fatalf("user-data: %d, want 403", code)
	}
	for _, s := range []string{`"pod":"cni-7x"`, `"namespace":"proxy-agents"`, `"profile":"node-agents"`, `"rule":"aws-user-data"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
