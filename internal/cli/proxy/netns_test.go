package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/proxy/redirect"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

// The network-namespace test. Everything it addresses lives in two
// namespaces it creates: "node" (the fake metadata service on
// 169.254.169.254 and the proxy) and "pod" (a veth to the node and a route
// to 169.254.169.254 through it, nothing else). Nothing is added to this
// process's own namespace, and no request leaves the test namespaces.

const (
	nodeAddr  = "10.213.0.1"
	podAddr   = "10.213.0.2"
	proxyPort = 18989
)

// needRoot fails under CI (which runs as root) and skips elsewhere.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		for _, tool := range []string{"ip", "nft"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("%s is missing: run hack/netns-tools.sh (make test does)", tool)
			}
		}
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the network-namespace test needs root, and CI runs as root")
	}
	t.Skip("needs root (network namespaces and nftables)")
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// namespaces creates the node and pod namespaces and returns their paths.
func namespaces(t *testing.T) (node, pod string) {
	t.Helper()
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	nodeNS, podNS := "igp-node-"+id, "igp-pod-"+id
	vNode, vPod := "igpn"+id, "igpp"+id
	sh(t, "ip", "netns", "add", nodeNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", nodeNS).Run() })
	sh(t, "ip", "netns", "add", podNS)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", podNS).Run() })
	// The veth pair is created inside the node namespace, so it never
	// exists in this one.
	sh(t, "ip", "-n", nodeNS, "link", "add", vNode, "type", "veth", "peer", "name", vPod, "netns", podNS)
	sh(t, "ip", "-n", nodeNS, "link", "set", "lo", "up")
	sh(t, "ip", "-n", nodeNS, "addr", "add", "169.254.169.254/32", "dev", "lo")
	sh(t, "ip", "-n", nodeNS, "addr", "add", nodeAddr+"/30", "dev", vNode)
	sh(t, "ip", "-n", nodeNS, "link", "set", vNode, "up")
	sh(t, "ip", "-n", podNS, "link", "set", "lo", "up")
	sh(t, "ip", "-n", podNS, "addr", "add", podAddr+"/30", "dev", vPod)
	sh(t, "ip", "-n", podNS, "link", "set", vPod, "up")
	sh(t, "ip", "-n", podNS, "route", "add", "169.254.169.254/32", "via", nodeAddr)
	return "/var/run/netns/" + nodeNS, "/var/run/netns/" + podNS
}

// inNetns runs f on a thread moved into the namespace at path. Sockets f
// creates belong to that namespace for good. If the thread cannot be moved
// back it is left locked, and Go discards it.
func inNetns(path string, f func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering %s: %w", path, err)
	}
	ferr := f()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return errors.Join(ferr, fmt.Errorf("leaving %s: %w", path, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// podClient makes every connection from the pod namespace.
func podClient(pod string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != "169.254.169.254:80" {
			return nil, fmt.Errorf("the pod client only talks to the metadata address, not %s", addr)
		}
		var c net.Conn
		err := inNetns(pod, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 1500 * time.Millisecond}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{
		Transport:     &http.Transport{DialContext: dial, DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
	}
}

type answer struct {
	status  int
	body    string
	refused bool // by the imdsguard proxy
	err     error
}

func podGet(c *http.Client, path string, headers ...string) answer {
	req, _ := http.NewRequest("GET", "http://169.254.169.254"+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_, refused := server.RefusedBy(resp)
	return answer{status: resp.StatusCode, body: string(b), refused: refused}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRedirectInNetworkNamespaces(t *testing.T) {
	needRoot(t)
	node, pod := namespaces(t)
	nodeNS, err := os.Open(node)
	if err != nil {
		t.Fatal(err)
	}
	defer nodeNS.Close()

	// The fake metadata service, on 169.254.169.254:80 in the node namespace.
	fake := fakeimds.New(endpoints.AWS, fakeimds.Options{})
	var ln net.Listener
	if err := inNetns(node, func() (err error) { ln, err = net.Listen("tcp", "169.254.169.254:80"); return err }); err != nil {
		t.Fatal(err)
	}
	upstream := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = upstream.Serve(ln) }()
	defer upstream.Close()
	client := podClient(pod)

	// Control: with no rules the pod reaches the service and its secrets,
	// so what follows shows the rules at work.
	if a := podGet(client, "/latest/user-data"); a.err != nil || a.status != 200 || !strings.Contains(a.body, fakeimds.SecretMarker) {
		t.Fatalf("without rules the pod should reach the fake service: %+v", a)
	}

	table := "igp-test-" + fmt.Sprint(os.Getpid()%100000)
	podCIDR := netip.MustParsePrefix(podAddr + "/32")
	red, err := redirect.New(redirect.Config{PodCIDRs: []netip.Prefix{podCIDR}, ProxyPort: proxyPort, Table: table, NetNSFd: int(nodeNS.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = red.Remove() }()

	// Before the proxy is ready: dropped, not passed and not refused.
	if err := red.Drop(); err != nil {
		t.Fatal(err)
	}
	if rules := sh(t, "ip", "netns", "exec", filepathBase(node), "nft", "list", "table", "inet", table); !strings.Contains(rules, "drop") {
		t.Fatalf("drop state has no drop rule:\n%s", rules)
	}
	before := fake.Requests()
	if a := podGet(client, "/latest/meta-data/instance-id"); !isTimeout(a.err) {
		t.Fatalf("with the drop in place the connection should time out, got %+v", a)
	}
	if fake.Requests() != before {
		t.Fatal("a dropped request reached the service")
	}

	// The proxy, as the real command, inside the node namespace.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--cloud", "aws", "--listen", fmt.Sprintf(":%d", proxyPort), "--pod-cidr", podCIDR.String(),
		"--nft-table", table, "--metrics-bind-address", "0", "--upstream", "http://169.254.169.254"}
	child := exec.Command("ip", "netns", "exec", filepathBase(node), exe)
	child.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\n"))
	stderr, _ := child.StderrPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	}()
	waitFor(t, logs, `"msg":"proxy ready"`)
	if rules := sh(t, "ip", "netns", "exec", filepathBase(node), "nft", "list", "table", "inet", table); !strings.Contains(rules, fmt.Sprintf("redirect to :%d", proxyPort)) || strings.Contains(rules, "drop") {
		t.Fatalf("ready state should redirect and no longer drop:\n%s", rules)
	}

	// Safe paths are served, credentials refused, by the proxy.
	if a := podGet(client, "/latest/meta-data/instance-id"); a.err != nil || a.status != 200 || a.body != fakeimds.InstanceID {
		t.Fatalf("instance-id through the proxy: %+v", a)
	}
	before = fake.Requests()
	for _, p := range []string{"/latest/meta-data/iam/security-credentials/node-role", "/latest/user-data", "/latest/meta-data/local-ipv4"} {
		a := podGet(client, p)
		if a.err != nil || a.status != 403 || !a.refused || strings.Contains(a.body, fakeimds.SecretMarker) {
			t.Fatalf("%s: want the proxy's refusal, got %+v", p, a)
		}
	}
	// The pod cannot reach the service directly: nothing of the above got
	// to it.
	if n := fake.Requests() - before; n != 0 {
		t.Fatalf("refused requests reached the service %d times", n)
	}
	waitFor(t, logs, `"rule":"aws-credentials"`)

	// Shutdown keeps the drop.
	_ = child.Process.Signal(unix.SIGTERM)
	if err := child.Wait(); err != nil {
		t.Fatalf("proxy exit: %v", err)
	}
	stopped = true
	if a := podGet(client, "/latest/meta-data/instance-id"); !isTimeout(a.err) {
		t.Fatalf("after the proxy stopped the drop should stay, got %+v", a)
	}
}

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// waitFor reads the child's log until a line contains s.
func waitFor(t *testing.T, logs <-chan string, s string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-logs:
			if !ok {
				t.Fatalf("proxy exited before logging %s:\n%s", s, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s in the proxy's log:\n%s", s, strings.Join(seen, "\n"))
		}
	}
}
