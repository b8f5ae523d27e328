package server

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A loop writes through an io_uring when the kernel allows it: the writes
// a batch of events produces (answers to pods, requests to the service)
// are queued and submitted in one system call at the end of the batch.
//
// Why: each write on loopback wakes the reader, and the woken task is put
// on the writer's CPU and usually preempts it at the end of the write; a
// loop that writes one socket at a time is preempted once per write and
// hands wrk or the service one message per wake-up (docs/performance.md,
// "Why the proxy was not ahead"). Submitted together, the writes are all
// done before the loop can be preempted.
//
// The state machines see a queued write as a socket that would block: the
// endpoint waits, and its completion (sent) resumes it, as an EPOLLOUT
// edge would. An endpoint has at most one write in the ring, so a
// connection's bytes go out in order. Sends are non-blocking
// (MSG_DONTWAIT): a full socket completes with EAGAIN and the endpoint
// waits for its EPOLLOUT edge, so a slow pod never holds the ring. The
// ring's own descriptor is in the loop's epoll set, for completions that
// come later than their submission.

type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

// sqe is struct io_uring_sqe (64 bytes).
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	pad         [2]uint64
}

// cqe is struct io_uring_cqe (16 bytes).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

const (
	ioringOpNop          = 0
	ioringOpSend         = 26
	ioringEnterGetEvents = 1
	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ringEntries          = 256
	sizeofUringParams    = 120
)

// ring is one loop's io_uring and the writes in it.
type ring struct {
	fd      int
	maps    [][]byte
	sqHead  *uint32
	sqTail  *uint32
	sqMask  uint32
	sqArray []uint32
	sqes    []sqe
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    []cqe

	// queued are writes not yet submitted; sent are writes submitted and
	// not yet completed, by user data (their buffers stay referenced
	// until the kernel is done with them).
	queued []ringWrite
	sent   map[uint64]ringWrite
	// failed are writes an io_uring_enter that failed did not take: reap
	// completes them with its error.
	failed    []ringWrite
	failedErr unix.Errno
	next      uint64
	// submits counts the system calls that submitted writes (for tests).
	submits int
}

// ringWrite is one write: its socket, the registration it was queued for,
// and its bytes.
type ringWrite struct {
	fd  int
	gen int32
	buf []byte
}

func newRing() (*ring, error) {
	if unsafe.Sizeof(uringParams{}) != sizeofUringParams || unsafe.Sizeof(sqe{}) != 64 || unsafe.Sizeof(cqe{}) != 16 {
		return nil, fmt.Errorf("io_uring structures of unexpected sizes")
	}
	var p uringParams
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", e)
	}
	r := &ring{fd: int(fd), sent: map[uint64]ringWrite{}}
	unix.CloseOnExec(r.fd)
	mmap := func(off int64, n int) ([]byte, error) {
		b, err := unix.Mmap(r.fd, off, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err == nil {
			r.maps = append(r.maps, b)
		}
		return b, err
	}
	sq, err := mmap(ioringOffSQRing, int(p.sqOff.array)+int(p.sqEntries)*4)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	cq, err := mmap(ioringOffCQRing, int(p.cqOff.cqes)+int(p.cqEntries)*int(unsafe.Sizeof(cqe{})))
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	sqes, err := mmap(ioringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})))
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring: %w", err)
	}
	r.sqHead = (*uint32)(unsafe.Pointer(&sq[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&sq[p.sqOff.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqes[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	// A seccomp profile may allow the ring's setup and forbid its use:
	// one no-op, waited for, tells before the loop relies on it.
	tail := atomic.LoadUint32(r.sqTail)
	idx := tail & r.sqMask
	r.sqes[idx] = sqe{opcode: ioringOpNop}
	r.sqArray[idx] = idx
	atomic.StoreUint32(r.sqTail, tail+1)
	for {
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), 1, 1, ioringEnterGetEvents, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			r.close()
			return nil, fmt.Errorf("io_uring_enter: %w", e)
		}
		break
	}
	r.reap(func(ringWrite, int32) {})
	return r, nil
}

func (r *ring) close() {
	for _, m := range r.maps {
		_ = unix.Munmap(m)
	}
	r.maps = nil
	unix.Close(r.fd)
}

// queue adds a write, submitting what is queued first when the ring is
// full.
func (r *ring) queue(w ringWrite) error {
	if len(r.queued) == len(r.sqes) {
		if err := r.submit(); err != nil {
			return err
		}
	}
	r.queued = append(r.queued, w)
	return nil
}

// submit hands the queued writes to the kernel in one system call, which
// does them before it returns unless a socket makes it wait.
func (r *ring) submit() error {
	n := len(r.queued)
	if n == 0 {
		return nil
	}
	tail := atomic.LoadUint32(r.sqTail)
	for i, w := range r.queued {
		idx := (tail + uint32(i)) & r.sqMask
		r.next++
		r.sqes[idx] = sqe{opcode: ioringOpSend, fd: int32(w.fd), addr: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(w.buf)))),
			len: uint32(len(w.buf)), msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL, userData: r.next}
		r.sqArray[idx] = idx
		r.sent[r.next] = w
	}
	atomic.StoreUint32(r.sqTail, tail+uint32(n))
	clear(r.queued)
	r.queued = r.queued[:0]
	for left := n; left > 0; {
		r.submits++
		m, e := ringEnter(uintptr(r.fd), uintptr(left))
		switch {
		case e == unix.EINTR:
		case e != 0:
			// The entries the kernel did not take must not stay in the
			// queue: the next submission would send them to whatever
			// socket has their numbers by then (forget closes a socket
			// after submitting, even when submitting failed).
			head := atomic.LoadUint32(r.sqHead)
			for i := head; i != tail+uint32(n); i++ {
				ud := r.sqes[r.sqArray[i&r.sqMask]].userData
				if w, ok := r.sent[ud]; ok {
					delete(r.sent, ud)
					r.failed = append(r.failed, w)
				}
			}
			atomic.StoreUint32(r.sqTail, head)
			r.failedErr = e
			return fmt.Errorf("io_uring_enter: %w", e)
		default:
			left -= int(m)
		}
	}
	return nil
}

// ringEnter submits n entries of the ring fd; a test makes it fail.
var ringEnter = func(fd, n uintptr) (uintptr, unix.Errno) {
	m, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, fd, n, 0, 0, 0, 0)
	return m, e
}

// reap calls done for each completed write, with what the send returned
// (bytes, or minus an errno).
func (r *ring) reap(done func(w ringWrite, res int32)) {
	if failed := r.failed; len(failed) > 0 {
		r.failed = nil
		for _, w := range failed {
			done(w, -int32(r.failedErr))
		}
	}
	head := atomic.LoadUint32(r.cqHead)
	for head != atomic.LoadUint32(r.cqTail) {
		c := r.cqes[head&r.cqMask]
		head++
		atomic.StoreUint32(r.cqHead, head)
		w, ok := r.sent[c.userData]
		if !ok {
			continue
		}
		delete(r.sent, c.userData)
		done(w, c.res)
	}
}
