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
// 169.254.169.254 and [fd00:ec2::254], and the proxy) and "pod" (a veth to
// the node and routes to those two addresses through it, nothing else). Nothing is added to this
// process's own namespace, and no request leaves the test namespaces.

const (
	nodeAddr  = "10.213.0.1"
	podAddr   = "10.213.0.2"
	nodeAddr6 = "fd00:213::1"
	podAddr6  = "fd00:213::2"
	proxyPort = 18989
)

// metadataBases are the two metadata addresses the pod asks, IPv4 and AWS
// Nitro's IPv6.
var metadataBases = []string{"169.254.169.254", "[fd00:ec2::254]"}

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
	sh(t, "ip", "-n", nodeNS, "addr", "add", "fd00:ec2::254/128", "dev", "lo")
	sh(t, "ip", "-n", nodeNS, "addr", "add", nodeAddr+"/30", "dev", vNode)
	sh(t, "ip", "-n", nodeNS, "addr", "add", nodeAddr6+"/64", "dev", vNode, "nodad")
	sh(t, "ip", "-n", nodeNS, "link", "set", vNode, "up")
	sh(t, "ip", "-n", podNS, "link", "set", "lo", "up")
	sh(t, "ip", "-n", podNS, "addr", "add", podAddr+"/30", "dev", vPod)
	sh(t, "ip", "-n", podNS, "addr", "add", podAddr6+"/64", "dev", vPod, "nodad")
	sh(t, "ip", "-n", podNS, "link", "set", vPod, "up")
	sh(t, "ip", "-n", podNS, "route", "add", "169.254.169.254/32", "via", nodeAddr)
	sh(t, "ip", "-n", podNS, "-6", "route", "add", "fd00:ec2::254/128", "via", nodeAddr6)
	// The services the proxy blocks rather than serves, also in the node
	// namespace only.
	for _, a := range []string{"168.63.129.16", "100.100.100.200"} {
		sh(t, "ip", "-n", nodeNS, "addr", "add", a+"/32", "dev", "lo")
		sh(t, "ip", "-n", podNS, "route", "add", a+"/32", "via", nodeAddr)
	}
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
		if addr != "169.254.169.254:80" && addr != "[fd00:ec2::254]:80" {
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

func podGet(c *http.Client, base, path string, headers ...string) answer {
	req, _ := http.NewRequest("GET", "http://"+base+path, nil)
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

// blockedServices are listeners in the node namespace for the services the
// proxy blocks by default, and for WireServer's DNS, which stays open.
var (
	blockedServices = []string{"168.63.129.16:80", "168.63.129.16:32526", "100.100.100.200:80"}
	openService     = "168.63.129.16:53"
)

func listenBlocked(t *testing.T, node string) {
	t.Helper()
	for _, addr := range append([]string{openService}, blockedServices...) {
		var ln net.Listener
		if err := inNetns(node, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
}

// checkBlocked dials every blocked service and the open one from the pod
// namespace at once: blocked ones must time out when blocked is set, and
// connect otherwise; the open one must always connect.
func checkBlocked(t *testing.T, pod, state string, blocked bool) {
	t.Helper()
	all := append([]string{openService}, blockedServices...)
	errs := make([]error, len(all))
	done := make(chan struct{})
	for i, addr := range all {
		go func() {
			defer func() { done <- struct{}{} }()
			errs[i] = inNetns(pod, func() error {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
				}
				return err
			})
		}()
	}
	for range all {
		<-done
	}
	for i, addr := range all {
		want := blocked && addr != openService
		switch {
		case want && !isTimeout(errs[i]):
			t.Errorf("%s: the pod's connection to %s should be dropped (time out), got %v", state, addr, errs[i])
		case !want && errs[i] != nil:
			t.Errorf("%s: the pod's connection to %s should succeed, got %v", state, addr, errs[i])
		}
	}
}

// checkDropped requires the blocked services' counters (what the proxy
// exports as imdsguard_proxy_blocked_packets_total) to have counted the
// pod's attempts.
func checkDropped(t *testing.T, red *redirect.Redirector, state string) {
	t.Helper()
	dropped, err := red.Dropped()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range blockedServices {
		if n := dropped[netip.MustParseAddrPort(s)]; n == 0 {
			t.Errorf("%s: no packet to %s counted as dropped (counters %v)", state, s, dropped)
		}
	}
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

	// The fake metadata service, on port 80 of both metadata addresses in
	// the node namespace.
	fake := fakeimds.New(endpoints.AWS, fakeimds.Options{})
	upstream := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	defer upstream.Close()
	for _, base := range metadataBases {
		var ln net.Listener
		if err := inNetns(node, func() (err error) { ln, err = net.Listen("tcp", base+":80"); return err }); err != nil {
			t.Fatal(err)
		}
		go func() { _ = upstream.Serve(ln) }()
	}
	client := podClient(pod)
	listenBlocked(t, node)

	// Control: with no rules the pod reaches the service and its secrets,
	// and the services the proxy blocks, so what follows shows the rules at
	// work.
	checkBlocked(t, pod, "without rules", false)
	for _, base := range metadataBases {
		if a := podGet(client, base, "/latest/user-data"); a.err != nil || a.status != 200 || !strings.Contains(a.body, fakeimds.SecretMarker) {
			t.Fatalf("without rules the pod should reach the fake service at %s: %+v", base, a)
		}
	}

	table := "igp-test-" + fmt.Sprint(os.Getpid()%100000)
	podCIDRs := []netip.Prefix{netip.MustParsePrefix(podAddr + "/32"), netip.MustParsePrefix(podAddr6 + "/128")}
	red, err := redirect.New(redirect.Config{PodCIDRs: podCIDRs, ProxyPort: proxyPort, Table: table, NetNSFd: int(nodeNS.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = red.Remove() }()

	// Before the proxy is ready: dropped, not passed and not refused.
	if err := red.Drop(); err != nil {
		t.Fatal(err)
	}
	if rules := sh(t, "ip", "netns", "exec", filepathBase(node), "nft", "list", "table", "inet", table); !dropsMetadata(rules) {
		t.Fatalf("drop state has no drop rule:\n%s", rules)
	}
	before := fake.Requests()
	for _, base := range metadataBases {
		if a := podGet(client, base, "/latest/meta-data/instance-id"); !isTimeout(a.err) {
			t.Fatalf("with the drop in place the connection to %s should time out, got %+v", base, a)
		}
	}
	if fake.Requests() != before {
		t.Fatal("a dropped request reached the service")
	}
	checkBlocked(t, pod, "drop state", true)
	checkDropped(t, red, "drop state")

	// The proxy, as the real command, inside the node namespace.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--cloud", "aws", "--listen", fmt.Sprintf(":%d", proxyPort), "--pod-cidr", podCIDRs[0].String(), "--pod-cidr", podCIDRs[1].String(),
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
	if rules := sh(t, "ip", "netns", "exec", filepathBase(node), "nft", "list", "table", "inet", table); !strings.Contains(rules, fmt.Sprintf("redirect to :%d", proxyPort)) || dropsMetadata(rules) {
		t.Fatalf("ready state should redirect and no longer drop:\n%s", rules)
	}

	// Safe paths are served, credentials refused, by the proxy.
	for _, base := range metadataBases {
		if a := podGet(client, base, "/latest/meta-data/instance-id"); a.err != nil || a.status != 200 || a.body != fakeimds.InstanceID {
			t.Fatalf("instance-id at %s through the proxy: %+v", base, a)
		}
	}
	before = fake.Requests()
	for _, base := range metadataBases {
		for _, p := range []string{"/latest/meta-data/iam/security-credentials/node-role", "/latest/user-data", "/latest/meta-data/local-ipv4"} {
			a := podGet(client, base, p)
			if a.err != nil || a.status != 403 || !a.refused || strings.Contains(a.body, fakeimds.SecretMarker) {
				t.Fatalf("%s%s: want the proxy's refusal, got %+v", base, p, a)
			}
		}
	}
	// The pod cannot reach the service directly: nothing of the above got
	// to it.
	if n := fake.Requests() - before; n != 0 {
		t.Fatalf("refused requests reached the service %d times", n)
	}
	waitFor(t, logs, `"rule":"aws-credentials"`)
	checkBlocked(t, pod, "proxy ready", true)
	checkDropped(t, red, "proxy ready") // the proxy's rules, read through the test's handle on the same table

	// Shutdown keeps the drop.
	_ = child.Process.Signal(unix.SIGTERM)
	if err := child.Wait(); err != nil {
		t.Fatalf("proxy exit: %v", err)
	}
	stopped = true
	for _, base := range metadataBases {
		if a := podGet(client, base, "/latest/meta-data/instance-id"); !isTimeout(a.err) {
			t.Fatalf("after the proxy stopped the drop should stay for %s, got %+v", base, a)
		}
	}
	checkBlocked(t, pod, "after the proxy stopped", true)
}

// dropsMetadata reports whether an nft listing drops traffic for the
// served metadata addresses (blocked services are dropped in every state).
func dropsMetadata(rules string) bool {
	for _, line := range strings.Split(rules, "\n") {
		if strings.Contains(line, "drop") && (strings.Contains(line, "169.254.169.254") || strings.Contains(line, "fd00:ec2::254")) {
			return true
		}
	}
	return false
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
