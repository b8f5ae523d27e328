package rules

import (
	"fmt"
	"regexp"
	"sort"
)

// Reference links a rule to an outside catalogue such as MITRE ATT&CK or a
// CIS benchmark.
type Reference struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// CheckFunc produces a rule's findings from a scan's context.
type CheckFunc func(*Context) []Finding

// Rule is a registered check with its documentation.
type Rule struct {
	ID          string
	Name        string
	Title       string
	Severity    Severity
	Description string
	Remediation string
	// SeverityNote explains when a finding departs from Severity.
	SeverityNote string
	References   []Reference
	Check        CheckFunc
	// ProbeOnly marks a rule whose findings only `imdsguard probe` raises,
	// from what its probes met; a scan never does.
	ProbeOnly bool
	// ClusterScoped marks a rule that reads only cluster-scoped input (node
	// settings): a scan that evaluates namespaces group by group runs it
	// once, and the others once per group.
	ClusterScoped bool
}

// Registry holds rules by ID. It refuses duplicates.
type Registry struct {
	rules []*Rule
	byID  map[string]*Rule
}

var idPattern = regexp.MustCompile(`^IMDS-[0-9]{3}$`)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byID: map[string]*Rule{}} }

// Register adds a rule. IDs must be unique and look like IMDS-NNN.
func (r *Registry) Register(rule *Rule) error {
	switch {
	case !idPattern.MatchString(rule.ID):
		return fmt.Errorf("rule %q: ID must look like IMDS-001", rule.ID)
	case r.byID[rule.ID] != nil:
		return fmt.Errorf("rule %s: already registered", rule.ID)
	case rule.Title == "" || rule.Description == "" || rule.Remediation == "" || rule.Check == nil:
		return fmt.Errorf("rule %s: title, description, remediation and check are required", rule.ID)
	}
	r.byID[rule.ID] = rule
	r.rules = append(r.rules, rule)
	sort.Slice(r.rules, func(i, j int) bool { return r.rules[i].ID < r.rules[j].ID })
	return nil
}

// Rules returns the rules in ID order.
func (r *Registry) Rules() []*Rule { return r.rules }

// Get returns a rule by ID, or nil.
func (r *Registry) Get(id string) *Rule { return r.byID[id] }

var builtin = NewRegistry()

// mustRegister is for the built-in rules, registered at init.
func mustRegister(rule *Rule) {
	if err := builtin.Register(rule); err != nil {
		panic(err)
	}
}

// Default returns the registry of built-in rules.
func Default() *Registry { return builtin }

// Common references.
var (
	mitreIMDS = Reference{Name: "MITRE ATT&CK T1552.005 (Cloud Instance Metadata API)", URL: "https://attack.mitre.org/techniques/T1552/005/"}
	cisNetpol = Reference{Name: "CIS Kubernetes Benchmark 5.3.2 (Ensure that all Namespaces have Network Policies defined)"}
	cisHostNw = Reference{Name: "CIS Kubernetes Benchmark 5.2.5 (Minimize the admission of containers wishing to share the host network namespace)"}
)
