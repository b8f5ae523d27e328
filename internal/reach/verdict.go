package reach

import (
	"fmt"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Verdict is the answer for one workload and one endpoint.
type Verdict int

// Verdicts, ordered from safest to worst so that max() combines them.
const (
	Blocked Verdict = iota
	Unknown
	Reachable
)

var verdictNames = [...]string{"Blocked", "Unknown", "Reachable"}

func (v Verdict) String() string { return verdictNames[v] }

// MarshalText renders the verdict name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a verdict name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Layer names the part of the datapath that took part in a decision.
type Layer string

// The layers, in the order they are consulted.
const (
	LayerHostNetwork Layer = "hostNetwork"
	LayerAdmin       Layer = "AdminNetworkPolicy"
	// LayerCilium (cilium.go) takes NetworkPolicy's place for pods that
	// Cilium policies select.
	LayerNetworkPolicy Layer = "NetworkPolicy"
	LayerBaseline      Layer = "BaselineAdminNetworkPolicy"
	// LayerCalico is a Calico tier (calico.go): Calico NetworkPolicy and
	// GlobalNetworkPolicy.
	LayerCalico      Layer = "CalicoPolicy"
	LayerUnsupported Layer = "UnsupportedPolicy"
	LayerInput       Layer = "Input"
)

// Decision is what a layer said.
type Decision string

// Decisions a layer can take.
const (
	Allow      Decision = "allow"
	Deny       Decision = "deny"
	NoOpinion  Decision = "no-opinion"
	Undecided  Decision = "unknown"
	NotApplied Decision = "not-applicable"
)

// RuleRef points at a policy, and optionally one of its rules.
type RuleRef struct {
	Policy model.ObjectRef `json:"policy"`
	// Rule is the index in the policy's egress list, or -1 for the policy as a whole.
	Rule   int          `json:"rule"`
	Source model.Source `json:"source"`
	// Why says, for an allowing rule, which peer and port let the traffic out.
	Why string `json:"why,omitempty"`
}

// Step is one layer's part in a verdict.
type Step struct {
	Layer    Layer     `json:"layer"`
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason"`
	Rules    []RuleRef `json:"rules,omitempty"`
}

// Result is the verdict for one pod shape and one target, with its trace.
type Result struct {
	Verdict Verdict `json:"verdict"`
	Trace   []Step  `json:"trace"`
}
