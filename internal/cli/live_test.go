package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/imdsguard/imdsguard/internal/app"
	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// writeKubeconfig writes one kubeconfig file per context, as KUBECONFIG
// lists them, and returns the KUBECONFIG value.
func writeKubeconfig(t *testing.T, contexts map[string]*rest.Config, current string) string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for name, c := range contexts {
		kc := clientcmdapi.NewConfig()
		kc.Clusters[name] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
		kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: c.BearerToken, ClientCertificateData: c.CertData, ClientKeyData: c.KeyData}
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
		if name == current {
			kc.CurrentContext = name
		}
		f := filepath.Join(dir, name+".yaml")
		if err := clientcmd.WriteToFile(*kc, f); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return strings.Join(files, string(os.PathListSeparator))
}

type run struct {
	code        int
	out, errOut string
}

func runCLI(t *testing.T, args ...string) run {
	t.Helper()
	var out, errOut bytes.Buffer
	code := app.Run(context.Background(), cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return run{code, out.String(), errOut.String()}
}

// TestLiveScanCLI drives `imdsguard scan` against a real API server through
// kubeconfig files listed in KUBECONFIG.
func TestLiveScanCLI(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	for _, ns := range []string{"shop", "other"} {
		if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: corev1.PodSpec{HostNetwork: ns == "shop", Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
		if _, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	t.Setenv("KUBECONFIG", writeKubeconfig(t, map[string]*rest.Config{
		"admin":   env.Config,
		"badauth": env.TokenConfig("wrong"),
		"down":    {Host: closed},
	}, "admin"))

	tests := []struct {
		name     string
		args     []string
		code     int
		out, err string
	}{
		{"current context", []string{"scan", "-A", "--fail-on", "critical"}, 1, "shop", ""},
		{"namespace", []string{"scan", "-n", "other", "-f", "json"}, 1, `"other"`, ""},
		{"two contexts", []string{"scan", "--contexts", "admin,admin", "--fail-on", "none"}, 0, "== cluster admin ==", ""},
		{"rejected credentials", []string{"scan", "--context", "badauth"}, 2, "",
			`imdsguard: cluster "badauth": the API server rejected the credentials (401 Unauthorized)`},
		{"unreachable", []string{"scan", "--context", "down"}, 2, "",
			`imdsguard: cluster "down": cannot reach the API server: connection refused`},
		{"all contexts, one down", []string{"scan", "--all-contexts"}, 2, "", `cluster "down": cannot reach`},
		{"unknown context", []string{"scan", "--context", "nope"}, 2, "", `context "nope" does not exist`},
		{"files and cluster", []string{"scan", "-A", "x.yaml"}, 2, "", "not both"},
		{"json for several clusters", []string{"scan", "--contexts", "admin,admin", "-f", "json", "--fail-on", "none"}, 0, `"schemaVersion": "imdsguard.io/scan-clusters/v1"`, ""},
		{"sarif for several clusters", []string{"scan", "--contexts", "admin,admin", "-f", "sarif", "--fail-on", "none"}, 0, `"id": "imdsguard/admin/"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.out, tt.out) || !strings.Contains(r.errOut, tt.err) {
				t.Errorf("code %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", r.code, tt.code, tt.out, r.out, tt.err, r.errOut)
			}
			if tt.err != "" && strings.Count(strings.TrimSpace(r.errOut), "\n") > 0 && tt.name != "all contexts, one down" {
				t.Errorf("error is not one line:\n%s", r.errOut)
			}
		})
	}
}

// TestKubectlPlugin installs the binary as kubectl-imdsguard and runs
// `kubectl imdsguard scan` with the kubectl that hack/controlplane.sh builds
// (or one on PATH).
func TestKubectlPlugin(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if assets, aerr := testenv.AssetsDir(); aerr == nil {
		if p := filepath.Join(assets, "kubectl"); fileExists(p) {
			kubectl, err = p, nil
		}
	}
	if err != nil {
		if testing.Short() {
			t.Skip("kubectl not found; run hack/controlplane.sh")
		}
		t.Fatalf("kubectl not found: run hack/controlplane.sh, which builds it (%v)", err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-imdsguard"), "github.com/imdsguard/imdsguard/cmd/imdsguard")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	cmd := exec.Command(kubectl, "imdsguard", "scan", "--fail-on", "none", "../../examples/cluster")
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "storefront") {
		t.Errorf("kubectl imdsguard scan: %v\n%s", err, out)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
