package reach_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// TestDifferential runs the engine and the reference evaluator on random
// inventories and fails on any disagreement. Case i is generated from seed
// i, so a failure is replayed with IMDSGUARD_DIFF_SEED=i. The number of
// cases comes from IMDSGUARD_DIFF_CASES.
func TestDifferential(t *testing.T) {
	if s := os.Getenv("IMDSGUARD_DIFF_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("IMDSGUARD_DIFF_SEED=%q: %v", s, err)
		}
		inv := genInventory(caseRand(seed))
		t.Logf("seed %d:\n%s", seed, dumpInventory(inv))
		if diffs := diffEngine(inv, allTargets, nil); len(diffs) > 0 {
			t.Errorf("seed %d: engine and reference disagree:\n%s", seed, strings.Join(diffs, "\n"))
		}
		return
	}
	runCases(t, 0, diffCases(t), func(seed uint64, tally *[3]int64) string {
		inv := genInventory(caseRand(seed))
		diffs := diffEngine(inv, allTargets, tally)
		if len(diffs) == 0 {
			return ""
		}
		return caseReport(seed, diffs, dumpInventory(inv))
	})
}

// runCases checks the seeds from first to n on GOMAXPROCS workers. check
// counts the reference verdicts of a case into tally and describes a
// disagreement ("" for none); the first five are reported.
func runCases(t *testing.T, first, n int64, check func(seed uint64, tally *[3]int64) string) {
	t.Helper()
	start := time.Now()
	var (
		next, mismatches atomic.Int64
		mu               sync.Mutex
		reports          []string
		tally            [3]int64 // reference verdicts, to show the cases exercise all three
		wg               sync.WaitGroup
	)
	next.Store(first)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var local [3]int64
			defer func() {
				mu.Lock()
				for i := range tally {
					tally[i] += local[i]
				}
				mu.Unlock()
			}()
			for {
				seed := next.Add(1) - 1
				if seed >= n {
					return
				}
				r := check(uint64(seed), &local)
				if r == "" {
					continue
				}
				mismatches.Add(1)
				mu.Lock()
				if len(reports) < 5 {
					reports = append(reports, r)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d cases, %d mismatches, %v; reference verdicts per pod shape and target: %d Blocked, %d Unknown, %d Reachable",
		n-first, mismatches.Load(), time.Since(start).Round(time.Millisecond), tally[reach.Blocked], tally[reach.Unknown], tally[reach.Reachable])
	for _, r := range reports {
		t.Error(r)
	}
}

// caseReport describes a disagreement: the seed to replay, the first
// differences, and the inventory.
func caseReport(seed uint64, diffs []string, inventory string) string {
	if len(diffs) > 6 {
		diffs = append(diffs[:6], fmt.Sprintf("... and %d more", len(diffs)-6))
	}
	return fmt.Sprintf("seed %d (replay with IMDSGUARD_DIFF_SEED=%d): engine and reference disagree:\n%s\ninventory:\n%s",
		seed, seed, strings.Join(diffs, "\n"), inventory)
}

func diffCases(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv("IMDSGUARD_DIFF_CASES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("IMDSGUARD_DIFF_CASES=%q: want a count of cases", s)
		}
		return n
	}
	if testing.Short() {
		return 20_000
	}
	return 200_000
}

// caseRand returns the generator source of one case.
func caseRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x696d6473677561))
}

// diffEngine evaluates inv with the engine and the reference and describes
// every difference: verdicts per template and combined, the rules the
// NetworkPolicy layer names, and which policies select which workloads.
// When tally is not nil, the reference verdicts are counted into it.
func diffEngine(inv *model.Inventory, targets []reach.Target, tally *[3]int64) []string {
	got := reach.Evaluate(inv, targets)
	want := refEvaluate(inv, targets)
	if tally != nil {
		for _, w := range want.Workloads {
			for _, per := range w.PerTemplate {
				for _, o := range per {
					tally[o.Verdict]++
				}
			}
		}
	}
	var diffs []string
	if len(got.Workloads) != len(want.Workloads) {
		return []string{fmt.Sprintf("engine has %d workload results, reference %d", len(got.Workloads), len(want.Workloads))}
	}
	for wi, w := range inv.Workloads {
		gw, rw := got.Workloads[wi], &want.Workloads[wi]
		name := w.Ref.Namespace + "/" + w.Ref.Name
		if gw.Workload != w {
			diffs = append(diffs, fmt.Sprintf("%s: result %d is for %s", name, wi, gw.Workload.Ref))
			continue
		}
		if !slices.Equal(gw.Policies, rw.Policies) {
			diffs = append(diffs, fmt.Sprintf("%s: selecting policies: engine %s, reference %s", name, policyList(gw.Policies), policyList(rw.Policies)))
		}
		if len(gw.PerTemplate) != len(w.Templates) {
			diffs = append(diffs, fmt.Sprintf("%s: engine has %d template results for %d templates", name, len(gw.PerTemplate), len(w.Templates)))
			continue
		}
		for i := range w.Templates {
			for ti := range targets {
				g, r := gw.PerTemplate[i][ti], rw.PerTemplate[i][ti]
				where := func() string { return fmt.Sprintf("%s template[%d] -> %s", name, i, targets[ti]) }
				if g.Verdict != r.Verdict {
					diffs = append(diffs, fmt.Sprintf("%s: engine %s, reference %s\n  engine trace:\n%s", where(), g.Verdict, r.Verdict, formatTrace(g.Trace)))
					continue
				}
				if gr := networkPolicyRules(g.Trace); !slices.Equal(gr, r.Rules) {
					diffs = append(diffs, fmt.Sprintf("%s: NetworkPolicy step names %v, reference %v\n  engine trace:\n%s", where(), gr, r.Rules, formatTrace(g.Trace)))
				}
				if gr := layerRules(g.Trace, reach.LayerAdmin); !slices.Equal(gr, r.Admin) {
					diffs = append(diffs, fmt.Sprintf("%s: AdminNetworkPolicy step names %v, reference %v\n  engine trace:\n%s", where(), gr, r.Admin, formatTrace(g.Trace)))
				}
				if gr := ciliumDenyRules(g.Trace); !slices.Equal(gr, r.CiliumDeny) {
					diffs = append(diffs, fmt.Sprintf("%s: Cilium step denies by %v, reference %v\n  engine trace:\n%s", where(), gr, r.CiliumDeny, formatTrace(g.Trace)))
				}
				if gr := layerRules(g.Trace, reach.LayerBaseline); !slices.Equal(gr, r.Baseline) {
					diffs = append(diffs, fmt.Sprintf("%s: BaselineAdminNetworkPolicy step names %v, reference %v\n  engine trace:\n%s", where(), gr, r.Baseline, formatTrace(g.Trace)))
				}
			}
		}
		for ti := range targets {
			if g, r := gw.Results[ti].Verdict, rw.Results[ti]; g != r {
				diffs = append(diffs, fmt.Sprintf("%s -> %s: combined verdict: engine %s, reference %s", name, targets[ti], g, r))
			}
		}
	}
	for _, np := range inv.NetworkPolicies {
		gs := got.Selects[np]
		var gotWorkloads []*model.Workload
		for _, wr := range gs {
			gotWorkloads = append(gotWorkloads, wr.Workload)
		}
		if !slices.Equal(gotWorkloads, want.Selects[np]) {
			diffs = append(diffs, fmt.Sprintf("Selects[%s]: engine %s, reference %s", np.Ref, workloadList(gotWorkloads), workloadList(want.Selects[np])))
		}
	}
	if len(got.Selects) != len(want.Selects) {
		diffs = append(diffs, fmt.Sprintf("Selects has %d policies, reference %d", len(got.Selects), len(want.Selects)))
	}
	return diffs
}

// networkPolicyRules returns the rules named by the NetworkPolicy step of a
// trace, in the reference's terms.
func networkPolicyRules(trace []reach.Step) []refRule {
	var out []refRule
	for _, s := range trace {
		if s.Layer != reach.LayerNetworkPolicy {
			continue
		}
		for _, r := range s.Rules {
			out = append(out, refRule{Policy: r.Policy, Rule: r.Rule})
		}
	}
	return out
}

// ciliumDenyRules returns the rules of a Cilium step that denies because
// egressDeny rules match for certain, sorted.
func ciliumDenyRules(trace []reach.Step) []refRule {
	var out []refRule
	for _, s := range trace {
		if s.Layer == reach.LayerCilium && s.Decision == reach.Deny && strings.Contains(s.Reason, "takes precedence") {
			for _, r := range s.Rules {
				out = append(out, refRule{Policy: r.Policy, Rule: r.Rule})
			}
		}
	}
	return refSorted(out)
}

// layerRules returns the rules the steps of one layer name, sorted.
func layerRules(trace []reach.Step, layer reach.Layer) []refRule {
	var out []refRule
	for _, s := range trace {
		if s.Layer != layer {
			continue
		}
		for _, r := range s.Rules {
			out = append(out, refRule{Policy: r.Policy, Rule: r.Rule})
		}
	}
	return refSorted(out)
}

func formatTrace(trace []reach.Step) string {
	var b strings.Builder
	for _, s := range trace {
		fmt.Fprintf(&b, "    %s %s: %s\n", s.Layer, s.Decision, s.Reason)
		for _, r := range s.Rules {
			fmt.Fprintf(&b, "      %s rule %d: %s\n", r.Policy, r.Rule, r.Why)
		}
	}
	return b.String()
}

func policyList(ps []*model.NetworkPolicy) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Ref.Namespace + "/" + p.Ref.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}

func workloadList(ws []*model.Workload) string {
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.Ref.Namespace + "/" + w.Ref.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}
