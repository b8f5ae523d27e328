// Command idleconns measures what idle keep-alive connections cost the
// proxy (docs/performance.md, "Memory per connection"): it opens N
// connections to a proxy on loopback, sends one request on each and reads
// the answer, and prints the proxy's RSS before and after.
//
//	go run ./hack/idleconns -addr 127.0.0.1:18181 -pid PID -n 5000
//
// The proxy must allow that many connections from 127.0.0.1
// (--max-conns-per-source), and this process needs N open files.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "the proxy, on loopback")
	pid := flag.Int("pid", 0, "the proxy's process id")
	n := flag.Int("n", 5000, "connections")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().IsLoopback() || *pid == 0 {
		fmt.Fprintln(os.Stderr, "idleconns: want -addr on loopback and -pid")
		os.Exit(2)
	}
	before := rss(*pid)
	conns := make([]net.Conn, 0, *n)
	for i := range *n {
		c, err := net.DialTimeout("tcp", *addr, 2*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idleconns: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		_, _ = io.WriteString(c, "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idleconns: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	fmt.Printf("proxy RSS: %s before, %s with %d idle connections\n", before, rss(*pid), len(conns))
	for _, c := range conns {
		c.Close()
	}
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
