package webhook_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
	"github.com/imdsguard/imdsguard/internal/webhook"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	ownNamespace = "imdsguard-system"
)

// served is a webhook started for one test: the configuration's name, the
// serving address and the metrics.
type served struct {
	config  string
	secret  string
	addr    string
	metrics *controller.Metrics
}

// serve registers a ValidatingWebhookConfiguration pointing at a loopback
// URL (with no CA: the controller injects it), starts the controller with
// its webhook, and waits until the API server calls it. The configuration
// is deleted when the test ends.
func serve(t *testing.T, env *testenv.Env, mode protection.Mode, certs webhook.CertOptions) *served {
	t.Helper()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	name := "imdsguard-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	url := fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.Path)
	vwc := webhook.Configuration(name, admissionregistrationv1.WebhookClientConfig{URL: &url},
		[]string{"kube-system", ownNamespace}, admissionregistrationv1.Fail)
	ensureNamespace(t, env, ownNamespace, nil, nil)
	if _, err := env.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Clientset.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting %s: %v", name, err)
		}
	})
	certs.Namespace, certs.SecretName, certs.WebhookConfig = ownNamespace, name, name
	certs.IPs = []net.IP{net.ParseIP("127.0.0.1")}
	mgr, metrics, err := controller.New(controller.Options{
		Config:      env.Config,
		Policy:      protection.ForClouds(mode, nil, nil, []string{"kube-system", ownNamespace}),
		MetricsAddr: "0",
		Registerer:  prometheus.NewRegistry(),
		Webhook:     &controller.WebhookOptions{Host: "127.0.0.1", Port: port, Certs: certs},
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, mgr.Start)
	s := &served{config: name, secret: name, addr: fmt.Sprintf("127.0.0.1:%d", port), metrics: metrics}
	// The API server learns of the configuration and the CA a moment
	// later: wait until a dry-run create of a hostNetwork pod is denied by
	// the webhook.
	ensureNamespace(t, env, "wh-probe", nil, nil)
	testenv.Eventually(t, "the API server calling the webhook", func() (bool, string) {
		_, err := env.Clientset.CoreV1().Pods("wh-probe").Create(ctx, pod("wh-probe", "probe", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if mode == protection.Audit {
			return err == nil && testutil.ToFloat64(metrics.WebhookDecisions.WithLabelValues("pods", webhook.Warned)) > 0, fmt.Sprint(err)
		}
		return err != nil && strings.Contains(err.Error(), "hostNetwork"), fmt.Sprint(err)
	})
	return s
}

func ensureNamespace(t *testing.T, env *testenv.Env, name string, labels, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func podSpec(hostNetwork bool) corev1.PodSpec {
	return corev1.PodSpec{HostNetwork: hostNetwork, Containers: []corev1.Container{{Name: "c", Image: "registry.example.com/app:1"}}}
}

func pod(ns, name string, hostNetwork bool) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: podSpec(hostNetwork)}
}

func deployment(ns, name string, hostNetwork bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(hostNetwork)}}}
}

func cronJob(ns, name string, hostNetwork bool) *batchv1.CronJob {
	spec := podSpec(hostNetwork)
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}}}
}

func egressPolicy(ns, name string, block networkingv1.IPBlock) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &block}}}},
		}}
}

// TestWebhookThroughAPIServer has the real API server call the webhook
// through a ValidatingWebhookConfiguration with a loopback URL and the CA
// the controller injected: hostNetwork pods and templates and a policy that
// re-opens metadata are rejected with a message that says why and how to
// fix it; good objects, exempt and opted-out namespaces are admitted; an
// opt-out without a reason does not count.
func TestWebhookThroughAPIServer(t *testing.T) {
	env := testenv.Get(t)
	s := serve(t, env, protection.Enforce, webhook.CertOptions{})
	ctx := context.Background()
	cs := env.Clientset
	optOut := map[string]string{"imdsguard.io/metadata-access": "allow"}
	ensureNamespace(t, env, "wh-apps", nil, nil)
	ensureNamespace(t, env, "wh-optout", optOut, map[string]string{protection.DefaultReasonAnnotation: "the node agent reads instance tags"})
	ensureNamespace(t, env, "wh-noreason", optOut, nil)

	denied := func(what string, err error, wants ...string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: admitted, want denied", what)
			return
		}
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) && !strings.Contains(err.Error(), "denied the request") {
			t.Errorf("%s: %v, want a denial by the webhook", what, err)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message %q does not contain %q", what, err.Error(), w)
			}
		}
	}
	admitted := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v, want admitted", what, err)
		}
	}

	_, err := cs.CoreV1().Pods("wh-apps").Create(ctx, pod("wh-apps", "host", true), metav1.CreateOptions{})
	denied("hostNetwork pod", err, "spec.hostNetwork: true", "Remove hostNetwork", protection.DefaultReasonAnnotation)
	_, err = cs.CoreV1().Pods("wh-apps").Create(ctx, pod("wh-apps", "plain", false), metav1.CreateOptions{})
	admitted("pod without hostNetwork", err)
	_, err = cs.AppsV1().Deployments("wh-apps").Create(ctx, deployment("wh-apps", "agent", true), metav1.CreateOptions{})
	denied("hostNetwork Deployment", err, "spec.template.spec.hostNetwork: true")
	_, err = cs.AppsV1().Deployments("wh-apps").Create(ctx, deployment("wh-apps", "web", false), metav1.CreateOptions{})
	admitted("Deployment without hostNetwork", err)
	_, err = cs.BatchV1().CronJobs("wh-apps").Create(ctx, cronJob("wh-apps", "backup", true), metav1.CreateOptions{})
	denied("hostNetwork CronJob", err, "spec.jobTemplate.spec.template.spec.hostNetwork: true")

	// Updating a good Deployment onto the host network is refused too.
	d, err := cs.AppsV1().Deployments("wh-apps").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.HostNetwork = true
	_, err = cs.AppsV1().Deployments("wh-apps").Update(ctx, d, metav1.UpdateOptions{})
	denied("update to hostNetwork", err, "hostNetwork")

	_, err = cs.NetworkingV1().NetworkPolicies("wh-apps").Create(ctx, egressPolicy("wh-apps", "allow-all", networkingv1.IPBlock{CIDR: "0.0.0.0/0"}), metav1.CreateOptions{})
	denied("re-opening policy", err, "spec.egress[0] allows", "169.254.169.254:80/TCP", "ipBlock 0.0.0.0/0 contains", "except list")
	t.Logf("the denial of a re-opening policy: %v", err)
	closed := networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"100.100.100.200/32", "168.63.129.16/32", "169.254.169.254/32"}}
	_, err = cs.NetworkingV1().NetworkPolicies("wh-apps").Create(ctx, egressPolicy("wh-apps", "allow-all-but-metadata", closed), metav1.CreateOptions{})
	admitted("policy that excepts every metadata address", err)

	_, err = cs.CoreV1().Pods("wh-optout").Create(ctx, pod("wh-optout", "host", true), metav1.CreateOptions{})
	admitted("hostNetwork pod in an opted-out namespace", err)
	_, err = cs.AppsV1().Deployments("wh-optout").Create(ctx, deployment("wh-optout", "legacy-agent", true), metav1.CreateOptions{})
	admitted("hostNetwork Deployment in an opted-out namespace", err)

	// The namespace opts back in: the Deployment it already has may still be
	// updated (with a warning), but not a good one moved onto the host
	// network.
	optIn, err := cs.CoreV1().Namespaces().Get(ctx, "wh-optout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(optIn.Labels, "imdsguard.io/metadata-access")
	if _, err := cs.CoreV1().Namespaces().Update(ctx, optIn, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the webhook seeing wh-optout opted in", func() (bool, string) {
		_, err := cs.CoreV1().Pods("wh-optout").Create(ctx, pod("wh-optout", "host-2", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, "admitted"
	})
	legacy, err := cs.AppsV1().Deployments("wh-optout").Get(ctx, "legacy-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	legacy.Spec.Template.Spec.Containers[0].Image = "registry.example.com/app:2"
	_, err = cs.AppsV1().Deployments("wh-optout").Update(ctx, legacy, metav1.UpdateOptions{})
	admitted("update of a Deployment already on the host network", err)

	// Restore the opt-out for the checks below.
	optIn, err = cs.CoreV1().Namespaces().Get(ctx, "wh-optout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	optIn.Labels["imdsguard.io/metadata-access"] = "allow"
	if _, err := cs.CoreV1().Namespaces().Update(ctx, optIn, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the webhook seeing wh-optout opted out again", func() (bool, string) {
		_, err := cs.CoreV1().Pods("wh-optout").Create(ctx, pod("wh-optout", "host-3", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil, fmt.Sprint(err)
	})
	_, err = cs.NetworkingV1().NetworkPolicies("wh-optout").Create(ctx, egressPolicy("wh-optout", "allow-all", networkingv1.IPBlock{CIDR: "0.0.0.0/0"}), metav1.CreateOptions{})
	admitted("re-opening policy in an opted-out namespace", err)
	_, err = cs.CoreV1().Pods("wh-noreason").Create(ctx, pod("wh-noreason", "host", true), metav1.CreateOptions{})
	denied("hostNetwork pod where the opt-out has no reason", err, "hostNetwork")
	_, err = cs.CoreV1().Pods("kube-system").Create(ctx, pod("kube-system", "host", true), metav1.CreateOptions{})
	admitted("hostNetwork pod in kube-system, which the configuration excludes", err)
	_, err = cs.CoreV1().Pods(ownNamespace).Create(ctx, pod(ownNamespace, "host", true), metav1.CreateOptions{})
	admitted("hostNetwork pod in the controller's namespace", err)

	// The controller's own managed policies pass the webhook.
	testenv.Eventually(t, "the managed policy in wh-apps", func() (bool, string) {
		_, err := cs.NetworkingV1().NetworkPolicies("wh-apps").Get(ctx, "imdsguard-deny-metadata", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	if v := testutil.ToFloat64(s.metrics.WebhookDecisions.WithLabelValues("pods", webhook.Denied)); v < 2 {
		t.Errorf("denied pods counted %v, want at least 2", v)
	}
	if v := testutil.ToFloat64(s.metrics.WebhookDecisions.WithLabelValues("networkpolicies", webhook.Denied)); v != 1 {
		t.Errorf("denied policies counted %v, want 1", v)
	}
}

// TestWebhookAuditMode admits what enforce mode denies, with a warning the
// client sees.
func TestWebhookAuditMode(t *testing.T) {
	env := testenv.Get(t)
	s := serve(t, env, protection.Audit, webhook.CertOptions{})
	ensureNamespace(t, env, "wh-audit", nil, nil)
	var warnings []string
	cfg := *env.Config
	cfg.WarningHandler = warningCollector{&warnings}
	cs := kubernetesClient(t, &cfg)
	if _, err := cs.CoreV1().Pods("wh-audit").Create(context.Background(), pod("wh-audit", "host", true), metav1.CreateOptions{}); err != nil {
		t.Fatalf("audit mode denied: %v", err)
	}
	if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "audit mode, would deny") {
		t.Errorf("warnings %q, want the audit warning", warnings)
	}
	if v := testutil.ToFloat64(s.metrics.WebhookDecisions.WithLabelValues("pods", webhook.Warned)); v < 1 {
		t.Errorf("warned decisions %v, want at least 1", v)
	}
}

// TestCertificateRotation runs with a serving certificate valid for a few
// seconds: the controller renews it in the Secret and serves the new one,
// and the API server, trusting the injected CA, keeps calling the webhook.
func TestCertificateRotation(t *testing.T) {
	env := testenv.Get(t)
	s := serve(t, env, protection.Enforce, webhook.CertOptions{Validity: 3 * time.Second, Interval: 100 * time.Millisecond})
	first := servedSerial(t, s.addr)
	testenv.Eventually(t, "a renewed serving certificate", func() (bool, string) {
		return servedSerial(t, s.addr) != first, "serial " + first
	})
	_, err := env.Clientset.CoreV1().Pods("wh-probe").Create(context.Background(), pod("wh-probe", "after-rotation", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil || !strings.Contains(err.Error(), "hostNetwork") {
		t.Errorf("after rotation: %v, want the webhook's denial", err)
	}
	sec, err := env.Clientset.CoreV1().Secrets(ownNamespace).Get(context.Background(), s.secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{webhook.KeyCert, webhook.KeyKey, webhook.KeyCABundle, webhook.KeyCAKey} {
		if len(sec.Data[k]) == 0 {
			t.Errorf("Secret lacks %s", k)
		}
	}
}

// warningCollector keeps the warnings the API server sends.
type warningCollector struct{ warnings *[]string }

func (w warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	*w.warnings = append(*w.warnings, text)
}

func kubernetesClient(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// servedSerial returns the serial of the certificate the server presents.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only reads the certificate
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}
