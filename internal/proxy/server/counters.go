package server

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/proxy"
)

// counters caches the children of the requests counter by cloud and rule,
// so that counting a request costs a map read rather than hashing label
// values. There are a few dozen combinations; the map is replaced, never
// changed, so reads take no lock.
type counters struct {
	vec *prometheus.CounterVec
	m   atomic.Pointer[map[counterKey]prometheus.Counter]
	mu  sync.Mutex // serialises additions
}

type counterKey struct {
	cloud endpoints.Cloud
	rule  proxy.Rule
}

func newCounters(vec *prometheus.CounterVec) *counters {
	c := &counters{vec: vec}
	c.m.Store(&map[counterKey]prometheus.Counter{})
	return c
}

func (c *counters) get(cloud endpoints.Cloud, rule proxy.Rule) prometheus.Counter {
	k := counterKey{cloud, rule}
	if ctr, ok := (*c.m.Load())[k]; ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if ctr, ok := old[k]; ok {
		return ctr
	}
	next := make(map[counterKey]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	ctr := c.vec.WithLabelValues(string(cloud), string(rule))
	next[k] = ctr
	c.m.Store(&next)
	return ctr
}
