//go:build controllerperf

package controller_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestStartupPerf measures the controller, as its own process, starting
// on an API server that already holds IMDSGUARD_PERF_NAMESPACES (default
// 2,000) unprotected namespaces: the time until every one holds its managed
// policy, the API requests it made meanwhile (its own
// rest_client_requests_total), its peak RSS, and its RSS and heap after a
// quiet minute. Built only with the controllerperf tag
// (hack/controllerperf.sh); the numbers go to docs/performance.md.
func TestStartupPerf(t *testing.T) {
	n := 2000
	if s := os.Getenv("IMDSGUARD_PERF_NAMESPACES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	env := testenv.Get(t)
	ctx := context.Background()
	createNamespaces(t, env, n)

	bin := filepath.Join(t.TempDir(), "imdsguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imdsguard")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "controller", "--kubeconfig", testenv.Kubeconfig(t, env.Config), "--leader-elect=false",
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "", "--log-level", "error")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})

	var elapsed time.Duration
	for deadline := time.Now().Add(10 * time.Minute); ; {
		list, err := env.Clientset.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{
			LabelSelector: generate.ManagedByLabel + "=" + generate.ManagedByValue})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, np := range list.Items {
			if strings.HasPrefix(np.Namespace, "perf-") {
				done++
			}
		}
		if done == n {
			elapsed = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d namespaces protected after 10 minutes", done, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	requests := scrape(t, metricsAddr, "rest_client_requests_total")
	peak := procStatus(t, cmd.Process.Pid, "VmHWM")
	time.Sleep(time.Minute)
	rss := procStatus(t, cmd.Process.Pid, "VmRSS")
	heap := scrape(t, metricsAddr, "go_memstats_heap_inuse_bytes")
	t.Logf("startup reconcile of %d namespaces: %s; API requests %.0f; peak RSS %s; after a quiet minute: RSS %s, heap in use %.0f MiB",
		n, elapsed.Round(10*time.Millisecond), requests, peak, rss, heap/(1<<20))
}

func createNamespaces(t *testing.T, env *testenv.Env, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("perf-%05d", i)}}
				if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// scrape sums the samples of one metric family.
func scrape(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// procStatus reads one field of /proc/PID/status ("123456 kB").
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && k == field {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}
