package deploy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/cli/command"
	proxycli "github.com/imdsguard/imdsguard/internal/cli/proxy"
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/pods"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

const proxyName = release + "-proxy"

// proxyValues turn the proxy on, with every value that changes its
// arguments or adds an object.
var proxyValues = []string{
	"proxy.enabled=true", "proxy.cloud=aws", "proxy.requireIMDSv2=true", "proxy.podInterfaces={eni*}",
	"proxy.config.allow={/latest/meta-data/local-ipv4}",
}

// proxyObjects renders the chart with the proxy on and returns the proxy's
// objects.
func proxyObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range decode(t, renderChart(t, proxyValues...)) {
		if strings.HasPrefix(o.GetName(), proxyName) {
			out = append(out, o)
		}
	}
	return out
}

// TestChartProxy renders the proxy's DaemonSet and checks what its safety
// rests on: the host network, the proxy's own binary, NET_ADMIN and nothing
// else, the node name, labels that no selector of the controller takes in,
// a config the proxy's strict decoder accepts, and RBAC limited to reading
// nodes, pods and namespaces. The API server accepts every object. Without
// the switch the chart renders no proxy.
func TestChartProxy(t *testing.T) {
	for _, o := range decode(t, renderChart(t)) {
		if o.GetKind() == "DaemonSet" || strings.HasPrefix(o.GetName(), proxyName) {
			t.Errorf("the default rendering holds %s %s", o.GetKind(), o.GetName())
		}
	}
	all := decode(t, renderChart(t, proxyValues...))
	objs := proxyObjects(t)
	ds := find(t, objs, "DaemonSet", proxyName)
	spec, _, _ := unstructured.NestedMap(ds.Object, "spec", "template", "spec")
	if spec["hostNetwork"] != true || spec["serviceAccountName"] != proxyName {
		t.Errorf("hostNetwork %v, serviceAccountName %v", spec["hostNetwork"], spec["serviceAccountName"])
	}
	c := container(t, ds)
	if cmd, _, _ := unstructured.NestedStringSlice(c, "command"); !slices.Equal(cmd, []string{"/imdsguard-proxy"}) {
		t.Errorf("command %v", cmd)
	}
	args := containerArgs(t, ds)
	for _, want := range []string{"--cloud=aws", "--require-imdsv2", "--record-events", "--pod-interface=eni*", "--listen=:8989",
		"--on-exit=keep-drop", "--config=/etc/imdsguard/proxy.yaml"} {
		if !contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	add, _, _ := unstructured.NestedStringSlice(c, "securityContext", "capabilities", "add")
	drop, _, _ := unstructured.NestedStringSlice(c, "securityContext", "capabilities", "drop")
	escalate, _, _ := unstructured.NestedBool(c, "securityContext", "allowPrivilegeEscalation")
	if !slices.Equal(add, []string{"NET_ADMIN"}) || !slices.Equal(drop, []string{"ALL"}) || escalate {
		t.Errorf("capabilities add %v drop %v, allowPrivilegeEscalation %v; want NET_ADMIN alone", add, drop, escalate)
	}
	env, _, _ := unstructured.NestedSlice(c, "env")
	if len(env) != 1 || fmt.Sprint(env[0]) != "map[name:NODE_NAME valueFrom:map[fieldRef:map[fieldPath:spec.nodeName]]]" {
		t.Errorf("env %v, want NODE_NAME from spec.nodeName", env)
	}

	// The controller's selectors must not take in the proxy's pods: its
	// Service would send webhook calls to them.
	podLabels, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "labels")
	for _, o := range all {
		sel, found, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels")
		if !found {
			sel, found, _ = unstructured.NestedStringMap(o.Object, "spec", "selector")
		}
		if !found || len(sel) == 0 || o.GetName() == proxyName {
			continue
		}
		matches := true
		for k, v := range sel {
			matches = matches && podLabels[k] == v
		}
		if matches {
			t.Errorf("%s %s selects the proxy's pods (%v)", o.GetKind(), o.GetName(), sel)
		}
	}

	cm := find(t, objs, "ConfigMap", proxyName)
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	cfg, err := proxy.ParseConfig("proxy.yaml", []byte(data["proxy.yaml"]))
	if err != nil {
		t.Fatalf("the rendered ProxyConfig: %v\n%s", err, data["proxy.yaml"])
	}
	if !slices.Equal(cfg.Allow, []string{"/latest/meta-data/local-ipv4"}) {
		t.Errorf("allow %v", cfg.Allow)
	}

	var got []string
	for _, g := range rbacRules(t, objs) {
		got = append(got, g.String())
	}
	sort.Strings(got)
	want := []string{"cluster /events create", "cluster /namespaces list", "cluster /namespaces watch", "cluster /nodes get", "cluster /pods list", "cluster /pods watch"}
	if !slices.Equal(got, want) {
		t.Errorf("the proxy's grants:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	envt := testenv.Get(t)
	ensureNamespace(t, envt, namespace)
	dryRun(t, envt, all)
}

// TestChartProxyRunsWithItsRBAC installs the proxy's ServiceAccount, RBAC
// and ConfigMap for real and runs the proxy in this process with the
// DaemonSet's own arguments, authenticated as that ServiceAccount, on
// loopback in front of a fake service (without redirection: no nftables
// here). With nothing but the chart's RBAC it syncs its informers, serves,
// and can read its Node's pod CIDRs.
func TestChartProxyRunsWithItsRBAC(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	cs := env.Clientset
	var install []*unstructured.Unstructured
	var ds, cm *unstructured.Unstructured
	for _, o := range proxyObjects(t) {
		switch o.GetKind() {
		case "DaemonSet":
			ds = o
			continue
		case "ConfigMap":
			cm = o
		}
		install = append(install, o)
	}
	ensureNamespace(t, env, namespace)
	apply(t, env, install, false)
	if t.Failed() {
		t.FailNow()
	}
	const node = "chart-proxy-node"
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.7.0/24"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, proxyName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for the proxy's ServiceAccount: %v", err)
	}
	saConfig := env.TokenConfig(tok.Status.Token)
	env.WaitAuthorized(t, "system:serviceaccount:"+namespace+":"+proxyName, "get", "", "nodes")

	// The Node: read when neither --pod-cidr nor --pod-interface is given.
	pc, err := pods.NewClient(saConfig)
	if err != nil {
		t.Fatal(err)
	}
	cidrs, err := pods.PodCIDRs(ctx, pc, node)
	if err != nil || len(cidrs) != 1 || cidrs[0] != netip.MustParsePrefix("10.244.7.0/24") {
		t.Fatalf("pod CIDRs as the proxy's ServiceAccount: %v, %v", cidrs, err)
	}

	// A pod on the node whose address is the test's own, so that its refused
	// request gets an Event, recorded with the chart's RBAC.
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "chart-proxy-client", Namespace: namespace},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if client, err = cs.CoreV1().Pods(namespace).Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1", PodIPs: []corev1.PodIP{{IP: "127.0.0.1"}}}
	if _, err := cs.CoreV1().Pods(namespace).UpdateStatus(ctx, client, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The config file, as the DaemonSet mounts it.
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	cfgFile := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(cfgFile, []byte(data["proxy.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(fakeimds.New(endpoints.AWS, fakeimds.Options{}))
	defer fake.Close()
	listen, metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var args []string
	for _, a := range containerArgs(t, ds) {
		if a == "--config=/etc/imdsguard/proxy.yaml" {
			a = "--config=" + cfgFile
		}
		args = append(args, a)
	}
	args = append(args, "--redirect=false", "--listen", listen, "--metrics-bind-address", metrics, "--upstream", fake.URL,
		"--node-name", node, "--kubeconfig", testenv.Kubeconfig(t, saConfig), "--gomaxprocs", "0")
	var logs testenv.Buffer
	t.Cleanup(func() { // after the proxy has stopped
		if l := logs.String(); strings.Contains(l, "forbidden") {
			t.Errorf("the proxy was refused something with the chart's RBAC:\n%s", l)
		}
	})
	testenv.Run(t, func(ctx context.Context) error {
		if code := proxycli.Run(ctx, command.Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: &logs}, args); code != 0 {
			return fmt.Errorf("exit code %d; logs:\n%s", code, logs.String())
		}
		return nil
	})
	testenv.Eventually(t, "/readyz", func() (bool, string) {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status + " " + logs.String()
	})
	// --require-imdsv2 from the chart: a read without a token is refused;
	// the config's extra path is served with one.
	get := func(path string, headers ...string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+listen+path, nil)
		req.Host = "169.254.169.254"
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/latest/meta-data/instance-id"); code != http.StatusForbidden {
		t.Errorf("a read without a token: %d, want 403", code)
	}
	// --record-events from the chart: that refusal is an Event on the pod.
	testenv.Eventually(t, "an Event for the refused read", func() (bool, string) {
		evs, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=chart-proxy-client"})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == pods.EventReason && strings.Contains(e.Message, "/latest/meta-data/instance-id") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events; logs:\n%s", len(evs.Items), logs.String())
	})
	tokReq, _ := http.NewRequest("PUT", "http://"+listen+"/latest/api/token", nil)
	tokReq.Host = "169.254.169.254"
	tokReq.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(tokReq)
	if err != nil {
		t.Fatal(err)
	}
	imdsToken, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := get("/latest/meta-data/local-ipv4", "X-aws-ec2-metadata-token", string(imdsToken)); code != http.StatusOK {
		t.Errorf("the config's extra path with a token: %d, want 200", code)
	}
}
