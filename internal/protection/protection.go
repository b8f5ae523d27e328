package protection

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// Mode says whether the controller and webhook change anything.
type Mode string

const (
	// Audit reports (Events, metrics, admission warnings) and writes nothing.
	Audit Mode = "audit"
	// Enforce keeps the managed policies in place and rejects at admission.
	Enforce Mode = "enforce"
)

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Audit, Enforce:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want audit or enforce)", s)
}

// DefaultReasonAnnotation is the annotation that must explain an opt-out.
const DefaultReasonAnnotation = "imdsguard.io/metadata-access-reason"

// Policy is what protection means in one cluster.
type Policy struct {
	Mode Mode
	// Generate shapes the managed NetworkPolicies (name, denied addresses,
	// default-deny).
	Generate generate.Options
	// Targets are the metadata targets no policy may open.
	Targets []reach.Target
	// KeepOpen are the node-local services the managed policies allow.
	KeepOpen []reach.Target
	// ExemptNamespaces are never touched: no managed policy, no admission
	// check.
	ExemptNamespaces []string
	// OptOutLabel and OptOutValue are the namespace label of an opt-out,
	// by default imdsguard.io/metadata-access=allow.
	OptOutLabel, OptOutValue string
	// ReasonAnnotation must be set, non-empty, for an opt-out to count.
	ReasonAnnotation string
}

// WithDefaults fills the empty fields of the opt-out.
func (p Policy) WithDefaults() Policy {
	if p.OptOutLabel == "" {
		p.OptOutLabel = generate.DefaultExemptLabel
	}
	if p.OptOutValue == "" {
		p.OptOutValue = generate.DefaultExemptValue
	}
	if p.ReasonAnnotation == "" {
		p.ReasonAnnotation = DefaultReasonAnnotation
	}
	if p.Mode == "" {
		p.Mode = Enforce
	}
	return p
}

// State is what a namespace gets.
type State string

const (
	// Protected namespaces hold the managed policy and are checked at
	// admission.
	Protected State = "protected"
	// Exempt namespaces (by name) are left alone.
	Exempt State = "exempt"
	// OptedOut namespaces carry the opt-out label and a reason.
	OptedOut State = "opted-out"
	// OptOutRefused namespaces carry the opt-out label without a reason;
	// they stay protected.
	OptOutRefused State = "opt-out-refused"
)

// Guarded reports whether the state keeps the namespace protected.
func (s State) Guarded() bool { return s == Protected || s == OptOutRefused }

// Classify says what a namespace gets, and for an opt-out the reason given.
func (p *Policy) Classify(ns *corev1.Namespace) (State, string) {
	if slices.Contains(p.ExemptNamespaces, ns.Name) {
		return Exempt, ""
	}
	if ns.Labels[p.OptOutLabel] != p.OptOutValue {
		return Protected, ""
	}
	reason := strings.TrimSpace(ns.Annotations[p.ReasonAnnotation])
	if reason == "" {
		return OptOutRefused, ""
	}
	return OptedOut, reason
}

// ForClouds returns a Policy that closes the metadata endpoints of the
// given clouds (every cloud when none is given) and of extra, keeps the
// clouds' node-local services open, and exempts exempt namespaces.
func ForClouds(mode Mode, clouds []endpoints.Cloud, extra []endpoints.Endpoint, exempt []string) Policy {
	targets := reach.Targets(append(endpoints.ForClouds(clouds...), extra...))
	reach.SortTargets(targets)
	keepOpen := reach.Targets(endpoints.KeepOpen(clouds...))
	reach.SortTargets(keepOpen)
	p := Policy{
		Mode:             mode,
		Generate:         generate.Options{Deny: generate.DenyAddresses(targets), ExemptNamespaces: exempt},
		Targets:          targets,
		KeepOpen:         keepOpen,
		ExemptNamespaces: exempt,
	}
	return p.WithDefaults()
}
