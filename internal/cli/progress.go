package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressDelay is how long an operation runs before progress shows:
// a quick scan prints nothing.
var progressDelay = time.Second

// progressTick is how often the progress line is redrawn.
var progressTick = 200 * time.Millisecond

// Progress is a one-line status on a terminal, redrawn in place until Stop
// clears it. It shows only after progressDelay, and never when disabled
// (stderr is not a terminal, or --quiet).
type Progress struct {
	w      io.Writer
	line   func(elapsed time.Duration) string
	stop   chan struct{}
	done   sync.WaitGroup
	shown  bool
	closed bool
}

// StartProgress starts drawing line(elapsed) on w after the delay, when
// enabled. Stop must be called.
func StartProgress(w io.Writer, enabled bool, line func(elapsed time.Duration) string) *Progress {
	p := &Progress{w: w, line: line, stop: make(chan struct{})}
	if !enabled {
		p.closed = true
		return p
	}
	start := time.Now()
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		select {
		case <-p.stop:
			return
		case <-time.After(progressDelay):
		}
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for {
			fmt.Fprintf(p.w, "\r\033[K%s", p.line(time.Since(start)))
			p.shown = true
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop ends the progress line and clears it if it was shown.
func (p *Progress) Stop() {
	if p.closed {
		return
	}
	p.closed = true
	close(p.stop)
	p.done.Wait()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
