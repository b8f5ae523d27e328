package reach

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

// Target is a distinct destination (address, port, protocol) and the
// catalogue endpoints served there. Several clouds share 169.254.169.254:80,
// so one verdict answers for all of them.
type Target struct {
	Addr      netip.Addr
	Port      int32
	Protocol  model.Protocol
	Endpoints []endpoints.Endpoint
	name      string // String(), rendered once
}

// String renders "addr:port/proto".
func (t Target) String() string {
	if t.name != "" {
		return t.name
	}
	return netip.AddrPortFrom(t.Addr, uint16(t.Port)).String() + "/" + string(t.Protocol)
}

// KeepOpen reports whether the target is a service that must stay
// reachable rather than a metadata endpoint.
func (t Target) KeepOpen() bool { return len(t.Endpoints) > 0 && t.Endpoints[0].KeepOpen }

// IDs returns the IDs of the endpoints behind the target, joined by commas.
func (t Target) IDs() string {
	ids := make([]string, len(t.Endpoints))
	for i, e := range t.Endpoints {
		ids[i] = e.ID
	}
	return strings.Join(ids, ",")
}

// Targets folds endpoints that share an address, port and protocol, keeping
// the order in which each destination first appears.
func Targets(eps []endpoints.Endpoint) []Target {
	type key struct {
		a netip.Addr
		p int32
		t model.Protocol
	}
	idx := map[key]int{}
	var out []Target
	for _, e := range eps {
		k := key{e.Addr, e.Port, e.Protocol}
		if i, ok := idx[k]; ok {
			out[i].Endpoints = append(out[i].Endpoints, e)
			continue
		}
		idx[k] = len(out)
		out = append(out, Target{Addr: e.Addr, Port: e.Port, Protocol: e.Protocol, Endpoints: []endpoints.Endpoint{e}})
	}
	for i := range out {
		out[i].name = out[i].String()
	}
	return out
}

// SortTargets orders targets by address family, then address, then port.
func SortTargets(ts []Target) {
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Addr.Is4() != ts[j].Addr.Is4() {
			return ts[i].Addr.Is4()
		}
		if c := ts[i].Addr.Compare(ts[j].Addr); c != 0 {
			return c < 0
		}
		return ts[i].Port < ts[j].Port
	})
}
