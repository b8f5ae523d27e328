// Package probetest runs the probe agent's counterparts for tests, all on
// loopback: a fake for every metadata service, an endpoint that never
// answers a connection, one that refuses it, a DNS server that knows no
// name, and a dialer that fails the test before anything leaves loopback.
package probetest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
)

// Fakes starts a loopback fake for every cloud and returns targets for
// probe.Options that point every endpoint of the catalogue at them.
func Fakes(t testing.TB, o fakeimds.Options) map[string]string {
	t.Helper()
	aws := Serve(t, fakeimds.New(endpoints.AWS, o))
	gcp := Serve(t, fakeimds.New(endpoints.GCP, o))
	return map[string]string{
		"aws-imds-ipv4":     aws,
		"aws-imds-ipv6":     aws,
		"gcp-metadata-ipv4": gcp,
		"gcp-metadata-ipv6": gcp,
		"azure-imds":        Serve(t, fakeimds.New(endpoints.Azure, o)),
		"azure-wireserver":  Serve(t, fakeimds.NewWireServer()),
		"alibaba-metadata":  Serve(t, fakeimds.New(endpoints.Alibaba, o)),
	}
}

// Serve serves h on a loopback port until the test ends and returns its
// "host:port".
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// Closed returns a loopback "host:port" nobody listens on: connections to
// it are refused.
func Closed(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// Silent returns a loopback "host:port" that accepts connections and never
// answers.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					_ = c.Close()
				}
				close(done)
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// Unanswered returns a loopback "host:port" whose accept queue is full, so
// that the kernel drops new connection attempts: a TCP connect there times
// out, as it does when a firewall drops packets to the metadata service.
func Unanswered(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port)).String()
	// Fill the queue until an attempt goes unanswered.
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatal("could not fill the accept queue of a loopback listener")
	return ""
}

// Resolver returns a resolver that asks a loopback DNS server which
// answers every question with "no such name".
func Resolver(t testing.TB) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := nxdomain(buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// nxdomain turns a DNS query into its "no such name" answer: the header
// and the question, nothing else.
func nxdomain(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	end := i + 1 + 4 // the root label, type and class
	if end > len(q) {
		return nil
	}
	r := append([]byte(nil), q[:end]...)
	r[2] = 0x80 | q[2]&0x01 // a response; recursion desired as asked
	r[3] = 0x80 | 3         // recursion available; NXDOMAIN
	r[4], r[5] = 0, 1       // one question
	for j := 6; j < 12; j++ {
		r[j] = 0 // no answers, authorities or additionals
	}
	return r
}

// InvalidName is a name no resolver knows (RFC 2606); Dial lets it through
// to the resolver, which is the test's own.
const InvalidName = "imdsguard-probe.invalid"

// Dial connects like a net.Dialer using resolver, but fails the test, and
// the connection, when the address is not loopback or InvalidName: no test
// may send a packet to a real metadata service.
func Dial(t testing.TB, resolver *net.Resolver) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Resolver: resolver}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip, err := netip.ParseAddr(host); (err != nil || !ip.IsLoopback()) && (host != InvalidName || resolver == nil) {
			t.Errorf("probe dialled %s, which is not loopback", addr)
			return nil, errors.New("probetest: refusing to dial " + addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}
