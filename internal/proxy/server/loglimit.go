package server

import (
	"sync"
	"time"
)

// refusalLog bounds the refusal lines one source writes, so that a pod
// flooding the proxy with refused requests does not flood the node's logs.
// Each source (a pod, or an address no pod owns) may write burst lines per
// window; the rest are counted, and the next line it writes says how many
// were left out. Metrics count every refusal, and Events have limits of
// their own.
type refusalLog struct {
	window time.Duration
	burst  int

	mu      sync.Mutex
	sources map[string]*logWindow
}

type logWindow struct {
	start      time.Time
	lines      int
	suppressed int
}

const (
	refusalLogWindow = time.Second
	refusalLogBurst  = 10
	// maxLogSources bounds the map; past it, sources with nothing to
	// report are forgotten.
	maxLogSources = 4096
)

func newRefusalLog() *refusalLog {
	return &refusalLog{window: refusalLogWindow, burst: refusalLogBurst, sources: map[string]*logWindow{}}
}

// allow reports whether a refusal line for source may be written now, and
// how many of its lines were left out since its last one.
func (l *refusalLog) allow(source string) (bool, int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.sources[source]
	if w == nil {
		if len(l.sources) >= maxLogSources {
			l.forget(now)
		}
		w = &logWindow{start: now}
		l.sources[source] = w
	}
	if now.Sub(w.start) >= l.window {
		w.start, w.lines = now, 0
	}
	if w.lines >= l.burst {
		w.suppressed++
		return false, 0
	}
	w.lines++
	left := w.suppressed
	w.suppressed = 0
	return true, left
}

// forget drops the sources whose window is over and that have nothing left
// to report; if that frees nothing, all of them (their counts of left-out
// lines are lost, the map stays bounded).
func (l *refusalLog) forget(now time.Time) {
	for k, w := range l.sources {
		if w.suppressed == 0 && now.Sub(w.start) >= l.window {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= maxLogSources {
		clear(l.sources)
	}
}
