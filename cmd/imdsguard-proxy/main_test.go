package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestLinksNoScanner keeps the binary small: it must not link the
// controller, the scanners or a clientset of every API group, whose package
// initialisation alone took the proxy's memory over its target
// (docs/performance.md).
func TestLinksNoScanner(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"sigs.k8s.io/controller-runtime",
		"k8s.io/client-go/kubernetes", // the clientset and its scheme: every API group
		"k8s.io/client-go/informers",
		"k8s.io/api/apps/",
		"github.com/imdsguard/imdsguard/internal/scan",
		"github.com/imdsguard/imdsguard/internal/source/",
		"github.com/imdsguard/imdsguard/internal/report",
		"github.com/imdsguard/imdsguard/internal/cli/scan",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) {
				t.Errorf("imdsguard-proxy links %s", dep)
			}
		}
	}
}

// TestStartsAndServes builds the binary, runs it on loopback in front of the
// fake AWS service, and checks that it serves a safe path, refuses
// credentials, and stops cleanly on SIGTERM.
func TestStartsAndServes(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "imdsguard-proxy")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	up := httptest.NewServer(fakeimds.New(endpoints.AWS, fakeimds.Options{}))
	defer up.Close()
	addr, metricsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)

	logs := &testenv.Buffer{}
	cmd := exec.Command(bin, "--redirect=false", "--cloud", "aws", "--listen", addr, "--upstream", up.URL, "--metrics-bind-address", metricsAddr)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	get := func(addr, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = "169.254.169.254"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v\nlogs:\n%s", path, err, logs)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	testenv.Eventually(t, "the proxy ready", func() (bool, string) {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	if resp, body := get(addr, "/latest/meta-data/instance-id"); resp.StatusCode != 200 || body != fakeimds.InstanceID {
		t.Errorf("instance-id: %d %q", resp.StatusCode, body)
	}
	resp, _ := get(addr, "/latest/meta-data/iam/security-credentials/")
	if rule, refused := server.RefusedBy(resp); !refused || rule != "aws-credentials" {
		t.Errorf("credentials: status %d, refused=%v by %q; want the proxy's refusal by aws-credentials", resp.StatusCode, refused, rule)
	}

	// One thread runs Go code unless --gomaxprocs says otherwise.
	_, metrics := get(metricsAddr, "/metrics")
	for _, want := range []string{"\ngo_sched_gomaxprocs_threads 1\n", `imdsguard_proxy_requests_total{cloud="aws",rule="allow-safe"} 1`,
		`imdsguard_proxy_refusals_total{namespace="",rule="aws-credentials"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nlogs:\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM\nlogs:\n%s", logs)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	var events []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"rule":"aws-credentials"`) {
			events = append(events, sc.Text())
		}
	}
	if len(events) != 1 {
		t.Errorf("want one refusal event for the credentials request, got %d:\n%s", len(events), logs)
	}
}

// TestGOMAXPROCSEnvWins: an explicit $GOMAXPROCS wins over --gomaxprocs's
// default of 1.
func TestGOMAXPROCSEnvWins(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "imdsguard-proxy")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	metricsAddr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--redirect=false", "--cloud", "aws", "--listen", testenv.FreeAddr(t), "--metrics-bind-address", metricsAddr)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	testenv.Eventually(t, "GOMAXPROCS 3 in /metrics", func() (bool, string) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\ngo_sched_gomaxprocs_threads 3\n"), resp.Status
	})
}
