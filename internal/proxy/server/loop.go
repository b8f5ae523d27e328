package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/wire"
)

// The proxy serves HTTP/1.1 on event loops of its own: each loop waits on
// one epoll set for its connections, reads a request only when it has
// arrived, and writes answers without handing requests between goroutines.
// It is nginx's design. net/http's server (a goroutine per connection, a
// background read and a context per request) cost the proxy twice nginx's
// CPU per request, on a path that does little else (docs/performance.md,
// "Metadata proxy").
//
// Every connection is owned by one loop and touched only by it, so a loop's
// connections need no lock (what loops share, the per-address connection
// counts and the refusal log, is locked). Sockets are registered edge-triggered: a loop reads
// until a read comes back short (then the socket is empty and the next
// arrival is a new edge) and remembers an edge it could not act on yet.

// Timeouts are a Server's time limits.
type Timeouts struct {
	// ReadHeader bounds the time from a request's first byte to the end of
	// its head.
	ReadHeader time.Duration
	// Idle closes a client connection with no request in progress.
	Idle time.Duration
	// Write bounds the time to write one answer to a client.
	Write time.Duration
	// Upstream bounds one exchange with the metadata service (GCP's
	// wait_for_change holds a request for up to a minute).
	Upstream time.Duration
	// Connect bounds connecting to the metadata service.
	Connect time.Duration
}

// DefaultTimeouts are those net/http's server had in the proxy, and the
// client's.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Idle: 90 * time.Second, Write: 10 * time.Second,
	Upstream: 70 * time.Second, Connect: 2 * time.Second}

// Limits of the loops.
const (
	// maxResponseBytes bounds a response body held for a client. Metadata
	// answers are small: AWS user data is at most 16 KiB, all of a GCP
	// instance's metadata at most 512 KiB.
	maxResponseBytes = 4 << 20
	// maxIdleUpstream is how many idle connections to the service each
	// loop keeps.
	maxIdleUpstream = 128
	// readChunk is the first buffer for a connection; buffers grow to hold
	// a whole head or response.
	readChunk = 4 << 10
	// maxFreeBufs bounds the read buffers a loop keeps for reuse.
	maxFreeBufs = 256
	// sweepEvery is how often deadlines are checked.
	sweepEvery = 250 * time.Millisecond
)

// ErrServerClosed is what Serve returns after Close or Shutdown: the same
// value net/http's server returns, so callers need not know which served.
var ErrServerClosed = http.ErrServerClosed

// Server serves a Handler on event loops.
type Server struct {
	h     *Handler
	loops int
	// Timeouts may be changed before Serve.
	Timeouts Timeouts
	// MaxConnsPerSource bounds the open connections from one address; a
	// connection over it is closed at once. It may be changed before Serve.
	MaxConnsPerSource int
	// PlainWrites makes the loops write with write(2) even where io_uring
	// is allowed (ring.go). It may be changed before Serve.
	PlainWrites bool

	// conns counts the open connections by source address.
	connsMu sync.Mutex
	conns   map[netip.Addr]int

	mu     sync.Mutex
	closed bool // Close or Shutdown was called
	lps    []*loop
	served chan struct{} // closed when Serve returns
}

// NewServer returns a Server for h with one event loop per thread that may
// run Go code (GOMAXPROCS).
func NewServer(h *Handler) *Server {
	return &Server{h: h, loops: runtime.GOMAXPROCS(0), Timeouts: DefaultTimeouts, MaxConnsPerSource: DefaultMaxConnsPerSource,
		conns: map[netip.Addr]int{}, served: make(chan struct{})}
}

// DefaultMaxConnsPerSource is far above what a metadata client keeps open
// (SDKs use one or a few connections), and keeps a pod that opens many
// from using up the proxy's memory: each connection holds its buffers.
const DefaultMaxConnsPerSource = 128

// admit counts a new connection from a, unless a is at its limit.
func (s *Server) admit(a netip.Addr) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.conns[a] >= s.MaxConnsPerSource {
		return false
	}
	s.conns[a]++
	return true
}

// release uncounts a closed connection from a.
func (s *Server) release(a netip.Addr) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.conns[a]--; s.conns[a] <= 0 {
		delete(s.conns, a)
	}
}

// Serve serves connections from ln, a TCP listener, until Close or
// Shutdown, and closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	defer close(s.served)
	defer ln.Close()
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return fmt.Errorf("proxy server: want a TCP listener, got %T", ln)
	}
	up, err := net.ResolveTCPAddr("tcp", s.h.upAddr)
	if err != nil {
		return fmt.Errorf("metadata service address %s: %w", s.h.upAddr, err)
	}
	// The loops accept on a duplicate of the listener's socket; its
	// original stays with ln, which keeps the port until Serve returns.
	lfd, err := dupSocket(tl)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	for range s.loops {
		// A Sockaddr per loop: unix.Connect writes into it.
		upSock, upFamily := sockaddr(up.AddrPort())
		l, err := newLoop(s, lfd, upSock, upFamily)
		if err != nil {
			for _, l := range s.lps {
				l.release()
			}
			s.lps = nil
			s.mu.Unlock()
			return err
		}
		s.lps = append(s.lps, l)
	}
	lps := s.lps
	s.mu.Unlock()
	for _, l := range lps {
		l.peers = lps
	}

	var wg sync.WaitGroup
	for _, l := range lps {
		wg.Go(l.run)
	}
	wg.Wait()
	return ErrServerClosed
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.stop(false)
	return nil
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests in progress to be answered, or for ctx; then it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	started := s.stop(true)
	if !started {
		return nil
	}
	select {
	case <-s.served:
		return nil
	case <-ctx.Done():
		s.stop(false)
		<-s.served
		return ctx.Err()
	}
}

// stop tells the loops to drain or to close everything, and reports
// whether Serve had started them.
func (s *Server) stop(drain bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, l := range s.lps {
		l.wake(drain)
	}
	return len(s.lps) > 0
}

// dupSocket returns a non-blocking duplicate of the listener's socket
// without going through os.File (whose Fd would make the socket block).
func dupSocket(tl *net.TCPListener) (int, error) {
	rc, err := tl.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("duplicating the listening socket: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	if ap.Addr().Unmap().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// endpoint is what a loop knows of a socket it polls.
type endpoint interface {
	event(ev uint32)
	// sent completes a write of n bytes through the ring: res is what the
	// send returned (bytes written, or minus an errno).
	sent(n int, res int32)
	closeNow()
}

// slot is a registered socket. Its generation is also in the epoll
// registration, so that an event still in a batch for a socket closed
// earlier in the batch does not reach a new socket given the same number.
type slot struct {
	e   endpoint
	gen int32
}

// loop is one event loop: its epoll set, the connections it owns, and its
// idle connections to the metadata service.
type loop struct {
	s        *Server
	h        *Handler
	ep       int
	epFile   *os.File // ep, known to Go's poller
	lfd      int
	wakefd   int
	upSock   unix.Sockaddr
	upFamily int
	fds      []slot // by file descriptor
	gen      int32  // the generation of the last registration
	clients  int
	idle     []*upConn
	now      time.Time
	// ring, when io_uring is allowed, carries the loop's writes (ring.go).
	ring *ring
	// keys is scratch for sorting an answer's header names.
	keys []string
	// free are read buffers of connections that went idle or closed.
	free [][]byte

	// mode is what the Server asks of the loop.
	mode     atomic.Int32
	accepted bool // the listener is in the epoll set
	// acceptPaused: accepting failed for want of resources; the listener
	// is polled again at the next sweep.
	acceptPaused bool

	// wakeMu guards wakefd against a wake after release closed it (its
	// number could belong to another file by then).
	wakeMu   sync.Mutex
	released bool

	// Balancing: the listener wakes one loop per connection, and a loop
	// that is awake accepts what is queued, so the loops' shares of
	// connections drift apart. A loop hands what it accepts to the loop
	// with the fewest (peers: every loop of the Server, itself included).
	peers []*loop
	// load counts the loop's connections and those handed to it and not
	// yet adopted; it is read by the other loops.
	load atomic.Int32
	// inbox holds the connections handed to the loop (guarded by wakeMu).
	inbox []handoff
}

// handoff is an accepted connection handed to another loop.
type handoff struct {
	fd     int
	remote netip.AddrPort
}

const (
	running int32 = iota
	draining
	closing
)

const edge = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

func newLoop(s *Server, lfd int, upSock unix.Sockaddr, upFamily int) (*loop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	// Non-blocking, so that os.NewFile hands it to Go's poller.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	l := &loop{s: s, h: s.h, ep: ep, lfd: lfd, wakefd: wakefd, upSock: upSock, upFamily: upFamily, accepted: true}
	if err := l.pollListener(); err != nil {
		l.release()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		l.release()
		return nil, fmt.Errorf("epoll: %w", err)
	}
	if !s.PlainWrites {
		r, err := newRing()
		if err == nil {
			err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, r.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(r.fd)})
			if err != nil {
				r.close()
			}
		}
		if err != nil {
			// Not allowed here (a seccomp profile, kernel.io_uring_disabled,
			// an old kernel): the loop writes with write(2).
			l.h.log.V(1).Info("io_uring unavailable; writing with write(2)", "reason", err.Error())
		} else {
			l.ring = r
		}
	}
	return l, nil
}

// pollListener adds the listening socket to the loop's epoll set. Every
// loop polls it; EPOLLEXCLUSIVE wakes one of them per connection rather
// than all.
func (l *loop) pollListener() error {
	return unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, l.lfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.lfd)})
}

func (l *loop) release() {
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	l.released = true
	// Connections handed to the loop as it stopped are closed unserved.
	for _, h := range l.inbox {
		l.s.release(h.remote.Addr())
		unix.Close(h.fd)
	}
	l.inbox = nil
	if l.epFile != nil {
		l.epFile.Close() // closes ep
	} else {
		unix.Close(l.ep)
	}
	unix.Close(l.wakefd)
	if l.ring != nil {
		l.ring.close()
	}
}

// wake asks the loop to drain or close, from another goroutine.
func (l *loop) wake(drain bool) {
	if !drain {
		l.mode.Store(closing)
	} else {
		l.mode.CompareAndSwap(running, draining)
	}
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	if !l.released {
		one := [8]byte{1} // the eventfd counter's increment, any non-zero value
		_, _ = unix.Write(l.wakefd, one[:])
	}
}

func (l *loop) run() {
	defer l.release()
	evs := make([]unix.EpollEvent, 128)
	// The loop waits for its epoll set to have events through Go's own
	// poller (an epoll set is itself pollable), so that a waiting loop
	// holds no thread and the scheduler is never told a call may block.
	ef := os.NewFile(uintptr(l.ep), "epoll")
	l.epFile = ef
	rc, err := ef.SyscallConn()
	if err != nil {
		l.h.log.Error(err, "event loop stopped")
		l.closeAll()
		return
	}
	nextSweep := time.Now().Add(sweepEvery)
	_ = ef.SetReadDeadline(nextSweep)
	for {
		var n int
		var perr error
		err := rc.Read(func(fd uintptr) bool {
			n, perr = pollNow(int(fd), evs)
			return n > 0 || (perr != nil && perr != unix.EINTR)
		})
		if err == nil {
			err = perr
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.h.log.Error(err, "event loop stopped")
			l.closeAll()
			return
		}
		l.now = time.Now()
		for _, ev := range evs[:max(n, 0)] {
			fd := int(ev.Fd)
			switch {
			case fd == l.lfd:
				l.accept()
			case l.ring != nil && fd == l.ring.fd:
				l.ring.reap(l.complete)
			case fd == l.wakefd:
				var b [8]byte
				_, _ = unix.Read(l.wakefd, b[:])
				l.adoptInbox()
			case fd < len(l.fds) && l.fds[fd].e != nil && l.fds[fd].gen == ev.Pad:
				l.fds[fd].e.event(ev.Events)
			}
		}
		// The sweep comes before flushRing: the 502 of an exchange that
		// timed out is a write to submit before the loop waits.
		if l.now.After(nextSweep) {
			l.sweep()
			if l.acceptPaused && l.mode.Load() == running {
				l.acceptPaused = false
				l.accepted = l.pollListener() == nil
			}
			nextSweep = l.now.Add(sweepEvery)
			_ = ef.SetReadDeadline(nextSweep)
		}
		l.flushRing()
		switch l.mode.Load() {
		case closing:
			l.closeAll()
			return
		case draining:
			if l.accepted {
				_ = unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, l.lfd, nil)
				l.accepted = false
				l.closeIdleClients()
			}
			if l.clients == 0 {
				l.closeAll()
				return
			}
		}
	}
}

func (l *loop) add(fd int, e endpoint) error {
	if fd >= len(l.fds) {
		l.fds = append(l.fds, make([]slot, max(fd+1, 2*len(l.fds), 64)-len(l.fds))...)
	}
	l.gen++
	l.fds[fd] = slot{e, l.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: edge, Fd: int32(fd), Pad: l.gen}); err != nil {
		l.fds[fd] = slot{}
		return err
	}
	return nil
}

// forget drops fd from the loop and closes it (closing removes it from the
// epoll set).
func (l *loop) forget(fd int) {
	l.fds[fd] = slot{}
	if l.ring != nil && len(l.ring.queued) > 0 {
		// A queued write names its socket by number: submit it before the
		// number can be given to another socket. (Once submitted, the
		// kernel holds the socket itself.)
		_ = l.ring.submit()
	}
	unix.Close(fd)
}

// flushRing submits the writes the batch queued and completes those done,
// until completing them queues no more. A submission that fails (the
// kernel short of resources) fails its writes: their connections close
// as on a failed write(2), and the loop goes on.
func (l *loop) flushRing() {
	if l.ring == nil {
		return
	}
	for range 16 {
		if len(l.ring.queued) == 0 && len(l.ring.failed) == 0 {
			break
		}
		l.submitRing()
		l.ring.reap(l.complete)
	}
	// What completing the last round queued goes to the kernel now; its
	// completion wakes the loop through the ring's descriptor.
	if l.submitRing() {
		l.ring.reap(l.complete)
	}
}

// submitRing submits the ring's queued writes and reports whether that
// failed (then reap fails them).
func (l *loop) submitRing() bool {
	if err := l.ring.submit(); err != nil {
		l.h.log.Error(err, "submitting writes through io_uring")
		return true
	}
	return false
}

// complete hands a finished write to its endpoint, unless the endpoint was
// closed meanwhile.
func (l *loop) complete(w ringWrite, res int32) {
	if w.fd < len(l.fds) && l.fds[w.fd].e != nil && l.fds[w.fd].gen == w.gen {
		l.fds[w.fd].e.sent(len(w.buf), res)
	}
}

func (l *loop) accept() {
	for range 64 {
		fd, sa, err := accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EAGAIN, unix.ECONNABORTED, unix.EINTR:
			// Another loop took it, there is nothing left, or the
			// connection was gone before it was accepted.
			return
		default:
			// Out of descriptors or memory: the listener stays readable,
			// so stop polling it until the next sweep rather than spin.
			if l.accepted {
				l.h.log.Error(err, "accepting connections; pausing until the next sweep")
				_ = unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, l.lfd, nil)
				l.accepted, l.acceptPaused = false, true
			}
			return
		}
		remote := addrPort(sa)
		if !l.s.admit(remote.Addr()) {
			// One pod cannot take the connections (and the memory) every
			// other pod on the node needs.
			l.h.log.V(1).Info("connection refused: too many from one address", "source", remote.String(), "limit", l.s.MaxConnsPerSource)
			unix.Close(fd)
			continue
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if t := l.leastLoaded(); t != l && t.give(fd, remote) {
			continue
		}
		l.load.Add(1)
		l.adopt(fd, remote)
	}
}

// leastLoaded returns the loop with the fewest connections; l on a tie.
func (l *loop) leastLoaded() *loop {
	best, least := l, l.load.Load()
	for _, o := range l.peers {
		if n := o.load.Load(); n < least {
			best, least = o, n
		}
	}
	return best
}

// give hands an accepted connection to l from another loop, and wakes l.
// It reports false when l is stopping: the caller keeps the connection.
func (l *loop) give(fd int, remote netip.AddrPort) bool {
	l.wakeMu.Lock()
	defer l.wakeMu.Unlock()
	if l.released || l.mode.Load() != running {
		return false
	}
	l.inbox = append(l.inbox, handoff{fd, remote})
	l.load.Add(1)
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
	return true
}

// adoptInbox serves the connections handed to l.
func (l *loop) adoptInbox() {
	l.wakeMu.Lock()
	in := l.inbox
	l.inbox = nil
	l.wakeMu.Unlock()
	for _, h := range in {
		l.adopt(h.fd, h.remote)
	}
}

// adopt serves an accepted connection, which l.load already counts.
func (l *loop) adopt(fd int, remote netip.AddrPort) {
	// A new connection gets the head's time limit for its first request, as
	// net/http's server gave it: one that sends nothing is not kept as
	// long as a connection that has been served.
	c := &client{l: l, fd: fd, remote: remote, deadline: l.now.Add(l.s.Timeouts.ReadHeader), reading: true}
	c.req.Header = http.Header{}
	if err := l.add(fd, c); err != nil {
		l.s.release(remote.Addr())
		l.load.Add(-1)
		unix.Close(fd)
		return
	}
	l.clients++
}

// accept4 is unix.Accept4; a test makes it fail as it does when the
// process is out of descriptors.
var accept4 = unix.Accept4

// getBuf returns a read buffer of readChunk bytes.
func (l *loop) getBuf() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return make([]byte, readChunk)
}

// putBuf keeps a read buffer of the first size for the next connection
// that reads.
func (l *loop) putBuf(b []byte) {
	if cap(b) == readChunk && len(l.free) < maxFreeBufs {
		l.free = append(l.free, b[:readChunk])
	}
}

// sweep closes what has outlived its deadline.
func (l *loop) sweep() {
	for _, sl := range l.fds {
		switch e := sl.e.(type) {
		case *client:
			if !e.deadline.IsZero() && l.now.After(e.deadline) {
				e.close()
			}
		case *upConn:
			if !e.deadline.IsZero() && l.now.After(e.deadline) {
				// A timed-out request is not sent again: the retry is for
				// a reused connection the service had closed, not for a
				// service that is slow (it would double the time limit).
				e.reused = false
				e.fail(errors.New("the metadata service did not answer in time"))
			}
		}
	}
}

func (l *loop) closeIdleClients() {
	for _, sl := range l.fds {
		if c, ok := sl.e.(*client); ok && c.state == clientIdle && c.n == 0 {
			c.close()
		}
	}
}

func (l *loop) closeAll() {
	for _, sl := range l.fds {
		if sl.e != nil {
			sl.e.closeNow()
		}
	}
	l.idle = nil
}

// client is a connection from a pod.
type client struct {
	l      *loop
	fd     int
	remote netip.AddrPort
	// remoteText is remote as text, made when first logged.
	remoteText string
	in         []byte // bytes read and not yet parsed
	n          int
	// scanned: in[:scanned] was found to hold no whole head (and no
	// malformed line end) yet.
	scanned    int
	out        []byte // the answer being written
	off        int
	req        wire.Request
	target     string // the canonical target being forwarded
	retried    bool   // the request went to a fresh connection after a reused one failed
	inProgress bool   // progress is running: do not run it again from inside
	state      clientState
	up         *upConn // the exchange this client waits for
	edges
	hungUp     bool
	reading    bool // a head has begun to arrive
	dropped    int  // bytes read and dropped while lingering
	closeAfter bool
	deadline   time.Time
	closed     bool
}

type clientState int

const (
	clientIdle      clientState = iota // reading a request
	clientWaiting                      // the metadata service has the request
	clientWriting                      // an answer is being written
	clientLingering                    // the last answer is written; waiting for the pod to stop sending
)

// After its last answer, a connection whose pod may still be sending waits
// this long, and reads and drops at most this much, before it closes.
const (
	lingerTime     = 500 * time.Millisecond
	maxLingerBytes = 256 << 10
)

// edges are what a socket's epoll events said and the loop has not acted
// on yet.
type edges struct {
	readable bool // an edge not yet read to the end
	writable bool
	// peerShut: an event said the peer shut its side. Its FIN may have
	// come with the last data, in one edge: read until a read returns 0
	// then, as a short read no longer means the socket is empty.
	peerShut bool
	// inRing: a write of the socket is in the loop's ring.
	inRing bool
}

// note records an epoll event.
func (e *edges) note(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.peerShut = true
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		e.writable = true
	}
}

// send writes out[off:] to fd while the socket takes it, and returns the
// new offset; it is done when the offset reaches len(out). With a ring, it
// queues the write and returns the offset unchanged, as if the socket were
// full; sent resumes the endpoint.
func (e *edges) send(l *loop, fd int, out []byte, off int) (int, error) {
	if l.ring != nil {
		if e.inRing || !e.writable || off == len(out) {
			return off, nil
		}
		if err := l.ring.queue(ringWrite{fd: fd, gen: l.fds[fd].gen, buf: out[off:]}); err != nil {
			return off, err
		}
		e.inRing, e.writable = true, false
		return off, nil
	}
	for off < len(out) && e.writable {
		m, err := rawWrite(fd, out[off:])
		switch {
		case err == unix.EAGAIN:
			e.writable = false
		case err == unix.EINTR:
		case err != nil:
			return off, err
		default:
			off += m
		}
	}
	return off, nil
}

func (c *client) event(ev uint32) {
	c.note(ev)
	c.progress()
}

// kick runs progress unless the client is already in it (an exchange may
// end inside the client's own progress).
func (c *client) kick() {
	if !c.inProgress {
		c.progress()
	}
}

// progress does everything the client's state and its socket allow.
func (c *client) progress() {
	c.inProgress = true
	defer func() { c.inProgress = false }()
	for !c.closed {
		switch c.state {
		case clientWriting:
			if !c.flush() {
				return
			}
		case clientWaiting:
			// A pod that hangs up while its request is with the service
			// takes the exchange down with it (GCP's wait_for_change may
			// hold a request a minute).
			if c.readable && c.peekHangUp() {
				c.up.abandon()
				c.close()
			}
			return
		case clientIdle:
			if !c.next() {
				return
			}
		case clientLingering:
			c.drain()
			return
		}
	}
}

// lingerClose ends a connection after its last answer. When the pod may
// still be sending (a refused body, a head that was too long), closing at
// once would make the kernel reset the connection, and a reset can destroy
// the answer before the pod reads it. So the proxy shuts its own side, and
// reads and drops what comes until the pod closes too, or for lingerTime.
func (c *client) lingerClose() {
	if c.hungUp || (c.n == 0 && !c.readable) {
		c.close()
		return
	}
	_ = unix.Shutdown(c.fd, unix.SHUT_WR)
	c.state = clientLingering
	c.n = 0
	c.deadline = c.l.now.Add(lingerTime)
	c.drain()
}

// drain reads and drops what a lingering pod sends.
func (c *client) drain() {
	for c.readable && !c.hungUp && c.dropped <= maxLingerBytes {
		c.n = 0
		c.fill()
		c.dropped += c.n
	}
	c.n = 0
	if c.hungUp || c.dropped > maxLingerBytes {
		c.close()
	}
}

// peekHangUp reads what the pod sent while waiting (a pipelined request
// stays in the buffer) and reports whether it hung up.
func (c *client) peekHangUp() bool {
	c.fill()
	return c.hungUp
}

// fill reads what the socket holds, up to a full head.
func (c *client) fill() {
	if c.in == nil {
		c.in = c.l.getBuf()
	}
	for c.readable && !c.hungUp {
		if c.n == len(c.in) {
			if len(c.in) > wire.MaxHead {
				return // the parser refuses it as too long
			}
			c.in = slices.Grow(c.in[:c.n], readChunk)[:min(c.n+readChunk, wire.MaxHead+1)]
		}
		m, err := rawRead(c.fd, c.in[c.n:])
		switch {
		case err == unix.EAGAIN:
			c.readable = false
		case err == unix.EINTR:
		case err != nil || m == 0:
			c.hungUp = true
		default:
			c.n += m
			if c.n < len(c.in) && !c.peerShut {
				c.readable = false // a short read emptied the socket
			}
		}
	}
}

// next reads and answers the next request. It reports whether the client
// moved on to another state.
func (c *client) next() bool {
	if c.n == 0 && !c.readable {
		return false
	}
	c.fill()
	if c.n == 0 {
		if c.hungUp {
			c.close()
		}
		return false
	}
	// A head that arrives in many small reads is parsed once it may be
	// whole, not at every read: parsing the whole buffer each time costs
	// time quadratic in the head's length, for a pod sending a byte at a
	// time.
	var hl int
	var err error
	if c.scanned > 0 && wire.StillIncomplete(c.in[:c.n], c.scanned) {
		err = wire.ErrIncomplete
	} else {
		hl, err = parseRequest(c.in[:c.n], &c.req)
	}
	if errors.Is(err, wire.ErrIncomplete) {
		c.scanned = c.n
		if c.hungUp {
			c.close()
			return false
		}
		if !c.reading {
			// The head's clock starts with its first byte.
			c.reading = true
			c.deadline = c.l.now.Add(c.l.s.Timeouts.ReadHeader)
		}
		return false
	}
	if err != nil {
		var werr *wire.Error
		status, reason := http.StatusBadRequest, err.Error()
		if errors.As(err, &werr) {
			status, reason = werr.Status, werr.Reason
		}
		c.l.h.log.V(1).Info("malformed request", "source", c.remoteString(), "status", status, "reason", reason)
		c.closeAfter = true
		c.answer(c.l.plain(c.out[:0], status, "", "", "imdsguard-proxy: "+http.StatusText(status)+"\n", true, false))
		return true
	}
	c.consume(hl)
	c.reading = false
	r := proxy.Request{Method: c.req.Method, Target: c.req.Target, Host: c.req.Host, Header: c.req.Header,
		ContentLength: c.req.ContentLength, TransferEncoding: c.req.TransferEncoding}
	// A request body is never read: the policy refuses every request that
	// has one, and the connection ends with the refusal.
	c.closeAfter = c.req.Close || c.req.ContentLength != 0 || len(c.req.TransferEncoding) > 0 || c.l.mode.Load() != running
	c.retried = false
	d := c.l.h.decide(r, c.remote, c.remoteString)
	if !d.Allowed {
		c.answer(c.l.refusal(c.out[:0], d.Rule, r.Method == http.MethodHead, c.closeAfter))
		return true
	}
	c.state = clientWaiting
	c.deadline = time.Time{}
	c.target = d.Target.RequestURI()
	c.l.exchange(c, false)
	return true
}

// consume drops the first k bytes read (a request head), keeping any that
// follow it.
func (c *client) consume(k int) {
	c.n = copy(c.in, c.in[k:c.n])
	c.scanned = 0
}

// parseRequest is wire.ParseRequest; a test counts the bytes it is given.
var parseRequest = wire.ParseRequest

func (c *client) remoteString() string {
	if c.remoteText == "" {
		c.remoteText = c.remote.String()
	}
	return c.remoteText
}

// answer starts writing out to the client.
func (c *client) answer(out []byte) {
	c.out, c.off = out, 0
	c.state = clientWriting
	c.deadline = c.l.now.Add(c.l.s.Timeouts.Write)
	c.writable = true // try at once; EAGAIN says otherwise
}

// flush writes what it can of the answer and reports whether it is all
// written (and the client ready for its next request).
func (c *client) flush() bool {
	var err error
	if c.off, err = c.send(c.l, c.fd, c.out, c.off); err != nil {
		c.close()
		return false
	}
	if c.off < len(c.out) {
		return false
	}
	if cap(c.out) > 64<<10 {
		c.out = nil // do not keep a large answer's buffer
	}
	c.out, c.off = c.out[:0], 0
	// A connection that was busy when Shutdown began ends with its answer:
	// it is not idle for closeIdleClients, and nothing closes it later.
	if c.closeAfter || c.l.mode.Load() != running {
		c.lingerClose()
		return false
	}
	c.state = clientIdle
	c.deadline = c.l.now.Add(c.l.s.Timeouts.Idle)
	if c.n == 0 {
		// An idle connection holds no read buffer.
		c.l.putBuf(c.in)
		c.in = nil
	}
	if c.n > 0 {
		c.reading = true
		c.deadline = c.l.now.Add(c.l.s.Timeouts.ReadHeader)
	}
	return true
}

// wrote applies the result of a write through the ring to e: the bytes
// written, or the error. A write that was not whole leaves writable as the
// socket's events set it.
func (e *edges) wrote(n int, res int32) (int, error) {
	e.inRing = false
	switch {
	case res == -int32(unix.EAGAIN):
		return 0, nil
	case res < 0:
		return 0, unix.Errno(-res)
	case int(res) == n:
		e.writable = true
	}
	return int(res), nil
}

func (c *client) sent(n int, res int32) {
	m, err := c.wrote(n, res)
	if err != nil {
		c.closeNow()
		return
	}
	c.off += m
	c.kick()
}

func (c *client) close() {
	if c.closed {
		return
	}
	c.closed = true
	c.l.clients--
	c.l.load.Add(-1)
	c.l.putBuf(c.in)
	c.in = nil
	c.l.s.release(c.remote.Addr())
	c.l.forget(c.fd)
}

func (c *client) closeNow() {
	if c.up != nil {
		c.up.abandon()
	}
	c.close()
}
