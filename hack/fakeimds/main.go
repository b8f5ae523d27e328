// Command fakeimds serves a fake metadata service on a loopback address,
// for the proxy's performance run (hack/proxyperf.sh).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "loopback address to serve on")
	cloud := flag.String("cloud", "aws", "aws, gcp or azure")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil || !ap.Addr().IsLoopback() {
		fmt.Fprintf(os.Stderr, "fakeimds: --listen %q: want a loopback ADDR:PORT\n", *listen)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeimds:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: fakeimds.New(endpoints.Cloud(*cloud), fakeimds.Options{}), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, "fakeimds: serving", *cloud, "on", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "fakeimds:", err)
		os.Exit(1)
	}
}
