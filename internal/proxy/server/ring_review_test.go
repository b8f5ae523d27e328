package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRingReviewSweepAnswerNotDeferred: a 502 that the sweep produces (the
// service did not answer in time) is queued in the ring after the batch's
// flushRing. It must go out at once, not wait for the loop's next wake-up
// (the next sweep, 250ms later, when nothing else happens).
func TestRingReviewSweepAnswerNotDeferred(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	upClosed := make(chan time.Time, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Read the request and whatever follows until the proxy closes.
		_, _ = io.Copy(io.Discard, c)
		upClosed <- time.Now()
	}()
	to := shortTimeouts
	f := startFront(t, "127.0.0.1:0", ln.Addr().String(), &to, func(s *Server) { s.loops = 1 })
	c := dialProxy(t, f.addr)
	c.write(request("GET", instanceID))
	resp, _ := c.read("GET")
	got := time.Now()
	wantBadGateway(t, "a request the service holds", resp)
	var closed time.Time
	select {
	case closed = <-upClosed:
	case <-time.After(2 * time.Second):
		t.Fatal("the proxy did not close its connection to the service")
	}
	if d := got.Sub(closed); d > 120*time.Millisecond {
		t.Errorf("the 502 reached the pod %v after the proxy gave up on the service, want at once", d)
	}
}

// TestRingReviewFailedEnterNoStaleWrite: when io_uring_enter fails, the
// writes it did not take must not stay in the submission queue, where the
// next submission would send them to whatever socket then has their
// number.
func TestRingReviewFailedEnterNoStaleWrite(t *testing.T) {
	r, err := newRing()
	if err != nil {
		t.Fatalf("newRing: %v", err)
	}
	defer r.close()
	pair := func() (int, int) {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return p[0], p[1]
	}
	a, aPeer := pair()
	defer unix.Close(aPeer)
	if err := r.queue(ringWrite{fd: a, gen: 1, buf: []byte("for A")}); err != nil {
		t.Fatal(err)
	}
	enter := ringEnter
	ringEnter = func(fd, n uintptr) (uintptr, unix.Errno) { return 0, unix.EAGAIN }
	err = r.submit() // as forget does before closing a
	ringEnter = enter
	if err == nil {
		t.Fatal("submit did not report the failed io_uring_enter")
	}
	unix.Close(a)
	// A new socket gets a's number.
	b, bPeer := pair()
	defer unix.Close(b)
	defer unix.Close(bPeer)
	if b != a && bPeer != a {
		t.Fatalf("the new socket pair %d,%d did not reuse %d", b, bPeer, a)
	}
	if bPeer == a {
		b, bPeer = bPeer, b
	}
	if err := r.queue(ringWrite{fd: b, gen: 2, buf: []byte("for B")}); err != nil {
		t.Fatal(err)
	}
	if err := r.submit(); err != nil {
		t.Fatal(err)
	}
	var failed []int32
	r.reap(func(w ringWrite, res int32) {
		if w.gen == 1 {
			failed = append(failed, res)
		}
	})
	time.Sleep(10 * time.Millisecond)
	buf := make([]byte, 64)
	n, _ := unix.Read(bPeer, buf)
	if got := string(buf[:max(n, 0)]); got != "for B" {
		t.Errorf("the new socket's peer got %q, want %q", got, "for B")
	}
	if len(failed) != 1 || failed[0] >= 0 {
		t.Errorf("the write that failed to be submitted completed with %v, want one error", failed)
	}
	if len(r.sent) != 0 {
		t.Errorf("%d writes still held as sent", len(r.sent))
	}
}

// TestRingReviewSlowReadersDoNotHoldOthers: pods that never read their
// large answers fill their sockets; the ring must not wait on them, and
// other pods are served promptly meanwhile. Then the slow pods read their
// answers whole and in order.
func TestRingReviewSlowReadersDoNotHoldOthers(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (3<<20)/16)
	addr := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == region {
			_, _ = io.WriteString(w, "small")
			return
		}
		_, _ = io.WriteString(w, big)
	})
	f := startFront(t, "127.0.0.1:0", addr, nil, func(s *Server) { s.loops = 1 })
	var slow []*conn
	for range 4 {
		c := dialProxy(t, f.addr)
		c.write(strings.Repeat(request("GET", instanceID), 3))
		slow = append(slow, c)
	}
	time.Sleep(200 * time.Millisecond) // the slow pods' sockets fill
	var wg sync.WaitGroup
	for range 8 {
		c := dialProxy(t, f.addr)
		wg.Go(func() {
			for range 20 {
				start := time.Now()
				_, body, err := c.tryGet(region)
				if err != nil || body != "small" {
					t.Errorf("answer %q, %v", body, err)
					return
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("an answer took %v while slow pods held theirs", d)
				}
			}
		})
	}
	wg.Wait()
	for i, c := range slow {
		_ = c.c.SetDeadline(time.Now().Add(5 * time.Second))
		for j := range 3 {
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("slow pod %d, answer %d: %v", i, j, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != big {
				t.Fatalf("slow pod %d, answer %d: %d bytes (%v), the answer mangled", i, j, len(b), err)
			}
		}
	}
}

// TestRingReviewHangUpsNeverMixAnswers: pods that hang up with their
// requests queued or in flight free socket numbers the loop gives to new
// connections at once; every answer a pod reads must still be its own.
func TestRingReviewHangUpsNeverMixAnswers(t *testing.T) {
	addr := handlerUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("User-Agent"))
	})
	f := startFront(t, "127.0.0.1:0", addr, nil, func(s *Server) { s.loops = 1 })
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 40 {
				tag := "pod-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				c, err := net.DialTimeout("tcp", f.addr, 2*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				req := request("GET", instanceID, "User-Agent: "+tag)
				if i%2 == 0 {
					// Hang up with the request on its way to the service.
					_, _ = io.WriteString(c, req+req)
					c.Close()
					continue
				}
				br := bufio.NewReader(c)
				for range 3 {
					if _, err := io.WriteString(c, req); err != nil {
						t.Error(err)
						break
					}
					resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
					if err != nil {
						t.Error(err)
						break
					}
					b, _ := io.ReadAll(resp.Body)
					if string(b) != tag {
						t.Errorf("%s read the answer %q", tag, b)
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
}
