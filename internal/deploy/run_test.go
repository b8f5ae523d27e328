package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/imdsguard/imdsguard/internal/app"
	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/testenv"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

// TestChartWebhookMatchesGo checks that the chart's webhook is the one
// webhook.Configuration builds, the client config aside.
func TestChartWebhookMatchesGo(t *testing.T) {
	rendered := find(t, decode(t, renderChart(t)), "ValidatingWebhookConfiguration", release)
	hooks, _, _ := unstructured.NestedSlice(rendered.Object, "webhooks")
	url := "https://example.invalid/validate"
	built := webhook.Configuration(release, admissionregistrationv1.WebhookClientConfig{URL: &url},
		[]string{"kube-system", namespace}, admissionregistrationv1.Fail)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&built.Webhooks[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(hooks))
	}
	got := hooks[0].(map[string]any)
	delete(got, "clientConfig")
	delete(m, "clientConfig")
	if diff := cmp.Diff(jsonOf(t, got), jsonOf(t, m)); diff != "" {
		t.Errorf("chart webhook (-got +want):\n%s", diff)
	}
}

// jsonOf normalises a value through JSON, so that numbers compare alike.
func jsonOf(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestChartRunsWithItsRBAC installs the chart's objects for real (all but
// the Deployment: there is no kubelet here) and runs `imdsguard controller`
// in this process with the Deployment's own arguments, authenticated as the
// chart's ServiceAccount. With nothing but the chart's RBAC it protects a
// new namespace, fills its certificate Secret, injects the CA into the
// chart's webhook configuration and, called by the API server, rejects a
// hostNetwork pod. (The configuration is pointed at the loopback address
// the controller listens on: no Service can reach it here.)
func TestChartRunsWithItsRBAC(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	cs := env.Clientset
	objs := decode(t, renderChart(t))
	port := freePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.Path)
	var install []*unstructured.Unstructured
	var dep *unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			dep = o
			continue
		case "ValidatingWebhookConfiguration":
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			hooks[0].(map[string]any)["clientConfig"] = map[string]any{"url": url}
			if err := unstructured.SetNestedSlice(o.Object, hooks, "webhooks"); err != nil {
				t.Fatal(err)
			}
		}
		install = append(install, o)
	}
	ensureNamespace(t, env, namespace)
	apply(t, env, install, false)
	t.Cleanup(func() {
		// failurePolicy is Fail: the configuration must not outlive the
		// controller serving it.
		if err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), release, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting the webhook configuration: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	tok, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, release,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for the chart's ServiceAccount: %v", err)
	}
	env.WaitAuthorized(t, "system:serviceaccount:"+namespace+":"+release, "list", "", "namespaces")
	probe := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append(containerArgs(t, dep),
		"--kubeconfig", testenv.Kubeconfig(t, env.TokenConfig(tok.Status.Token)), "--namespace", namespace,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(port), "--webhook-cert-ip", "127.0.0.1",
		"--metrics-bind-address", "0", "--health-probe-bind-address", probe)
	var logs testenv.Buffer
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- app.Run(runCtx, cli.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &logs}, args)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit code %d; logs:\n%s", code, logs.String())
			}
		case <-time.After(testenv.WaitTimeout):
			t.Errorf("the controller did not stop")
		}
	}
	t.Cleanup(stop)

	testenv.Eventually(t, "/readyz", func() (bool, string) {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "chart-app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the managed policy in chart-app", func() (bool, string) {
		_, err := cs.NetworkingV1().NetworkPolicies("chart-app").Get(ctx, generate.DefaultName, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	testenv.Eventually(t, "the CA injected into the chart's configuration", func() (bool, string) {
		vwc, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, release, metav1.GetOptions{})
		return err == nil && len(vwc.Webhooks[0].ClientConfig.CABundle) > 0, fmt.Sprint(err)
	})
	sec, err := cs.CoreV1().Secrets(namespace).Get(ctx, release+"-webhook-cert", metav1.GetOptions{})
	if err != nil || len(sec.Data[webhook.KeyCert]) == 0 {
		t.Errorf("the certificate Secret is not filled: %v", err)
	}
	hostPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "host", Namespace: "chart-app"},
		Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/app:1"}}}}
	testenv.Eventually(t, "the webhook denying a hostNetwork pod", func() (bool, string) {
		_, err := cs.CoreV1().Pods("chart-app").Create(ctx, hostPod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "hostNetwork"), fmt.Sprint(err)
	})
	stop()
	if l := logs.String(); strings.Contains(l, "forbidden") {
		t.Errorf("the controller was refused something with the chart's RBAC:\n%s", l)
	}
}
