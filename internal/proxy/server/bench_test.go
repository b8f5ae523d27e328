package server

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imdsguard/imdsguard/internal/proxy"
)

// The benchmarks measure the proxy's own cost per request
// (docs/performance.md, "Metadata proxy"). The metadata service behind it
// is a canned loopback server that answers every request head with the same
// bytes and allocates nothing, so that allocs/op are the proxy's: the
// functional tests run against the real fakes (internal/fakeimds).

const cannedBody = "i-0fake0000000000001"

var cannedResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
	strconv.Itoa(len(cannedBody)) + "\r\n\r\n" + cannedBody)

// cannedUpstream serves cannedResponse on loopback until the benchmark ends.
func cannedUpstream(b *testing.B) *url.URL {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if err := skipHead(br); err != nil {
						return
					}
					if _, err := c.Write(cannedResponse); err != nil {
						return
					}
				}
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// skipHead reads one message head (request or response) and returns its
// Content-Length.
func skipHead(br *bufio.Reader) error {
	_, err := readHead(br)
	return err
}

func readHead(br *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			return n, nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
}

// benchHandler is the handler as the command builds it: metrics, a JSON
// logger at info level (refusals only), no pod index.
func benchHandler(b *testing.B, up *url.URL) *Handler {
	b.Helper()
	p, err := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return New(p, WithUpstream(up), WithMetrics(m), WithLogger(logr.FromSlogHandler(slog.NewJSONHandler(io.Discard, nil))))
}

// BenchmarkServeLoopback is the whole proxy (Server and Handler) on
// loopback, driven by keep-alive clients on 64 connections (wrk -c64 in
// hack/proxyperf.sh). ns/op is wall time per request over all connections.
func BenchmarkServeLoopback(b *testing.B) {
	h := benchHandler(b, cannedUpstream(b))
	srv := NewServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	req := []byte("GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: wrk\r\n\r\n")
	b.SetParallelism(32) // × GOMAXPROCS 2 = 64 connections
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		body := make([]byte, 256)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			status, err := br.Peek(12)
			if err != nil || string(status[9:12]) != "200" {
				b.Errorf("response %q: %v", status, err)
				return
			}
			n, err := readHead(br)
			if err == nil {
				_, err = io.ReadFull(br, body[:n])
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
