package generate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// Op is one RFC 6902 JSON Patch operation.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Patch is the change to one existing NetworkPolicy that re-opens metadata.
type Patch struct {
	Policy *model.NetworkPolicy
	// Ops apply to the object as written (Original).
	Ops []Op
	// Original is the object as written; Patched is Original with Ops applied.
	Original, Patched *unstructured.Unstructured
	// Changes say, rule by rule, what the patch does, for comments.
	Changes []string
}

// patchPolicy closes the metadata addresses in the given egress rules of a
// policy, changing nothing else:
//   - an ipBlock containing a denied address gets an except entry for it;
//   - an ipBlock that is exactly a denied address is removed, and a rule
//     left with no peer (which would allow everything) is removed;
//   - an IPv4-mapped IPv6 ipBlock, which CNIs read differently, is rewritten
//     as the IPv4 block it denotes, then treated as above;
//   - an empty `to` (every destination) becomes 0.0.0.0/0 and ::/0 without
//     the metadata addresses, plus every pod in the cluster.
//
// carve lists node-local services that an except of this policy cuts off
// for pods it selects (rule IMDS-005); each gets an egress rule of its own
// that allows exactly its address, port and protocol.
//
// A rewritten IPv4-mapped block may now, read as IPv4, cut off a node-local
// service among keepOpen that the ambiguous block only may have; those get
// a rule too.
func patchPolicy(np *model.NetworkPolicy, original *unstructured.Unstructured, ruleIdx []int, deny []netip.Addr, carve, keepOpen []reach.Target) (*Patch, error) {
	egress, found, err := unstructured.NestedSlice(original.Object, "spec", "egress")
	if err != nil || !found {
		return nil, fmt.Errorf("%s: %s/%s: spec.egress is missing or not a list in the object as written", np.Source, np.Ref.Namespace, np.Ref.Name)
	}
	p := &Patch{Policy: np, Original: original}
	sort.Sort(sort.Reverse(sort.IntSlice(ruleIdx))) // removals from the end keep earlier paths valid
	for _, ri := range ruleIdx {
		if ri < 0 || ri >= len(egress) {
			return nil, fmt.Errorf("%s: %s/%s: egress rule %d is not in the object as written", np.Source, np.Ref.Namespace, np.Ref.Name, ri)
		}
		rule, _ := egress[ri].(map[string]any)
		rpath := "/spec/egress/" + strconv.Itoa(ri)
		to, _ := rule["to"].([]any)
		if len(to) == 0 {
			var peers []any
			for _, peer := range exceptPeers(deny) {
				b := map[string]any{"cidr": peer.IPBlock.CIDR}
				if len(peer.IPBlock.Except) > 0 {
					b["except"] = toAny(peer.IPBlock.Except)
				}
				peers = append(peers, map[string]any{"ipBlock": b})
			}
			peers = append(peers, map[string]any{"namespaceSelector": map[string]any{}})
			p.Ops = append(p.Ops, Op{Op: "add", Path: rpath + "/to", Value: peers})
			p.Changes = append(p.Changes, fmt.Sprintf("egress rule %d: empty `to` (every destination) replaced by 0.0.0.0/0 and ::/0 without the metadata addresses, and every pod", ri))
			continue
		}
		var removed []int
		for pi := len(to) - 1; pi >= 0; pi-- {
			peer, _ := to[pi].(map[string]any)
			block, _ := peer["ipBlock"].(map[string]any)
			if block == nil {
				continue
			}
			ppath := rpath + "/to/" + strconv.Itoa(pi) + "/ipBlock"
			ops, change, remove, now, err := patchBlock(block, ppath, deny)
			if err != nil {
				return nil, fmt.Errorf("%s: %s/%s: egress rule %d, peer %d: %v", np.Source, np.Ref.Namespace, np.Ref.Name, ri, pi, err)
			}
			if now != nil {
				for _, t := range keepOpen {
					if now.CIDR.Contains(t.Addr) && covered(now.Except, t.Addr) && !hasTarget(carve, t) {
						carve = append(carve, t)
					}
				}
			}
			if remove {
				removed = append(removed, pi)
				p.Ops = append(p.Ops, Op{Op: "remove", Path: rpath + "/to/" + strconv.Itoa(pi)})
			} else {
				p.Ops = append(p.Ops, ops...)
			}
			if change != "" {
				p.Changes = append(p.Changes, fmt.Sprintf("egress rule %d, peer %d: %s", ri, pi, change))
			}
		}
		if len(removed) == len(to) {
			// Every peer went: an empty `to` would allow everything.
			p.Ops = trimOps(p.Ops, rpath)
			p.Ops = append(p.Ops, Op{Op: "remove", Path: rpath})
			p.Changes = append(p.Changes, fmt.Sprintf("egress rule %d removed: it allowed only metadata addresses", ri))
		}
	}
	for _, t := range carve {
		rule := map[string]any{
			"to":    []any{map[string]any{"ipBlock": map[string]any{"cidr": netip.PrefixFrom(t.Addr, t.Addr.BitLen()).String()}}},
			"ports": []any{map[string]any{"protocol": string(t.Protocol), "port": int64(t.Port)}},
		}
		p.Ops = append(p.Ops, Op{Op: "add", Path: "/spec/egress/-", Value: rule})
		p.Changes = append(p.Changes, fmt.Sprintf("egress rule added for %s (%s), which an except cut off", t, t.Endpoints[0].Service))
	}
	if removedRules(p.Ops) == len(egress) && len(carve) == 0 {
		if _, found, _ := unstructured.NestedFieldNoCopy(original.Object, "spec", "policyTypes"); !found {
			// Without policyTypes, egress is governed only while egress rules
			// exist: removing the last would stop isolating the pods and
			// allow them everything. Pin what the defaulting meant.
			p.Ops = append(p.Ops, Op{Op: "add", Path: "/spec/policyTypes", Value: []any{"Ingress", "Egress"}})
			p.Changes = append(p.Changes, "policyTypes [Ingress, Egress] set, as defaulted before, so that the pods stay isolated for egress with no rule left")
		}
	}
	patched, err := apply(original, p.Ops)
	if err != nil {
		return nil, fmt.Errorf("%s: %s/%s: %v", np.Source, np.Ref.Namespace, np.Ref.Name, err)
	}
	p.Patched = patched
	return p, nil
}

// patchBlock returns the operations that keep the denied addresses out of
// one ipBlock, or remove=true when the block is nothing but denied addresses.
// When it rewrites an IPv4-mapped block, now is the block as rewritten.
func patchBlock(block map[string]any, path string, deny []netip.Addr) (ops []Op, change string, remove bool, now *model.IPBlock, err error) {
	raw, _ := block["cidr"].(string)
	var b model.IPBlock
	if msg := b.SetCIDR(raw); msg != "" {
		return nil, "", false, nil, fmt.Errorf("%s", msg)
	}
	rawExcept, _ := block["except"].([]any)
	for _, e := range rawExcept {
		s, _ := e.(string)
		if msg := b.AddExcept(s); msg != "" {
			return nil, "", false, nil, fmt.Errorf("%s", msg)
		}
	}
	cidr, except := b.CIDR, b.Except
	rewritten := false
	if b.Ambiguous != "" {
		// Say what the block means for IPv4, in IPv4.
		if !cidr.Addr().Is4In6() || cidr.Bits() < 96 {
			return nil, "", false, nil, fmt.Errorf("ipBlock %s mixes IPv4-mapped and other IPv6 addresses; rewrite it by hand", raw)
		}
		cidr = netip.PrefixFrom(cidr.Addr().Unmap(), cidr.Bits()-96)
		var ex []netip.Prefix
		for _, e := range except {
			if e.Addr().Is4In6() {
				ex = append(ex, netip.PrefixFrom(e.Addr().Unmap(), e.Bits()-96))
			}
		}
		except, rewritten = ex, true
	}
	var add []netip.Prefix
	for _, a := range deny {
		if a.Is4() != cidr.Addr().Is4() || !cidr.Contains(a) || covered(except, a) {
			continue
		}
		if cidr.Bits() == a.BitLen() {
			return nil, fmt.Sprintf("ipBlock %s is a metadata address; removed", raw), true, nil, nil
		}
		add = append(add, netip.PrefixFrom(a, a.BitLen()))
	}
	if !rewritten && len(add) == 0 {
		return nil, "", false, nil, nil
	}
	if rewritten {
		all := append(append([]netip.Prefix(nil), except...), add...)
		v := map[string]any{"cidr": cidr.String()}
		if len(all) > 0 {
			v["except"] = prefixesToAny(all)
		}
		change = fmt.Sprintf("IPv4-mapped ipBlock %s rewritten as %s", raw, cidr)
		if len(add) > 0 {
			change += ", without " + prefixList(add)
		}
		return []Op{{Op: "replace", Path: path, Value: v}}, change, false,
			&model.IPBlock{CIDR: cidr, Except: all}, nil
	}
	if len(rawExcept) == 0 {
		ops = []Op{{Op: "add", Path: path + "/except", Value: prefixesToAny(add)}}
	} else {
		for _, a := range add {
			ops = append(ops, Op{Op: "add", Path: path + "/except/-", Value: a.String()})
		}
	}
	return ops, fmt.Sprintf("ipBlock %s: except %s added", raw, prefixList(add)), false, nil, nil
}

func hasTarget(ts []reach.Target, t reach.Target) bool {
	for _, x := range ts {
		if x.String() == t.String() {
			return true
		}
	}
	return false
}

func covered(except []netip.Prefix, a netip.Addr) bool {
	for _, e := range except {
		if e.Addr().Is4() == a.Is4() && e.Contains(a) {
			return true
		}
	}
	return false
}

// removedRules counts the operations that remove a whole egress rule.
func removedRules(ops []Op) int {
	n := 0
	for _, o := range ops {
		if o.Op == "remove" && strings.Count(o.Path, "/") == 3 && strings.HasPrefix(o.Path, "/spec/egress/") {
			n++
		}
	}
	return n
}

// trimOps drops the operations under path, which is about to be removed.
func trimOps(ops []Op, path string) []Op {
	out := ops[:0]
	for _, o := range ops {
		if len(o.Path) > len(path) && o.Path[:len(path)+1] == path+"/" {
			continue
		}
		out = append(out, o)
	}
	return out
}

// apply applies JSON Patch operations to a copy of obj.
func apply(obj *unstructured.Unstructured, ops []Op) (*unstructured.Unstructured, error) {
	doc, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	pb, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.DecodePatch(pb)
	if err != nil {
		return nil, err
	}
	out, err := patch.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("applying the patch: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(out, &u.Object); err != nil {
		return nil, err
	}
	return u, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func prefixesToAny(ps []netip.Prefix) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func prefixList(ps []netip.Prefix) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += ", "
		}
		s += p.String()
	}
	return s
}
