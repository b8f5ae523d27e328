package report

import (
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// SchemaVersion names the version of Document; the JSON Schema for it is
// docs/schema/scan-v1.json.
const SchemaVersion = "imdsguard.io/scan/v1"

// Document is the complete, renderer-neutral result of a scan.
type Document struct {
	SchemaVersion string `json:"schemaVersion"`
	Tool          Tool   `json:"tool"`
	// Complete is false when input errors left some verdicts Unknown.
	Complete bool     `json:"complete"`
	Clouds   []string `json:"clouds"`
	Inputs   []string `json:"inputs"`
	Summary  Summary  `json:"summary"`
	Targets  []Target `json:"targets"`
	// Namespaces lists every namespace seen, sorted.
	Namespaces   []string        `json:"namespaces"`
	Workloads    []Workload      `json:"workloads"`
	Findings     []rules.Finding `json:"findings"`
	Rules        []Rule          `json:"rules"`
	Errors       []InputError    `json:"errors"`
	Warnings     []string        `json:"warnings"`
	UnknownKinds map[string]int  `json:"unknownKinds"`
}

// Tool identifies the producer.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Summary holds the counts shown at the end of every report.
type Summary struct {
	Namespaces int `json:"namespaces"`
	Workloads  int `json:"workloads"`
	// Verdicts counts workload × metadata target verdicts by verdict name.
	Verdicts map[string]int `json:"verdicts"`
	// DecidedBy counts workload × metadata target verdicts by the layer that
	// decided them.
	DecidedBy map[string]int `json:"decidedBy"`
	// Findings counts unsuppressed findings by severity.
	Findings    map[string]int `json:"findings"`
	Suppressed  int            `json:"suppressed"`
	InputErrors int            `json:"inputErrors"`
}

// Target is a destination the scan answered for.
type Target struct {
	// ID is "addr:port/PROTO".
	ID        string     `json:"id"`
	Address   string     `json:"address"`
	Port      int32      `json:"port"`
	Protocol  string     `json:"protocol"`
	KeepOpen  bool       `json:"keepOpen"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is a catalogue entry behind a target.
type Endpoint struct {
	ID      string `json:"id"`
	Cloud   string `json:"cloud,omitempty"`
	Service string `json:"service"`
}

// Workload is one workload and its verdicts.
type Workload struct {
	Object      model.ObjectRef `json:"object"`
	Source      model.Source    `json:"source"`
	HostNetwork bool            `json:"hostNetwork"`
	// Inferred is true when only a Pod's ownerReference named the workload.
	Inferred bool `json:"inferred"`
	// Identity is the cloud identity the workload has of its own (IRSA, GKE
	// or Azure workload identity), if any.
	Identity string `json:"identity,omitempty"`
	// Policies names the egress NetworkPolicies that select its pods.
	Policies []string  `json:"policies"`
	Verdicts []Verdict `json:"verdicts"`
}

// Verdict is one workload × target answer with its trace.
type Verdict struct {
	Target  string        `json:"target"`
	Verdict reach.Verdict `json:"verdict"`
	Trace   []reach.Step  `json:"trace"`
}

// Rule is a rule's metadata, carried so that every format is self-describing.
type Rule struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Title        string            `json:"title"`
	Severity     rules.Severity    `json:"severity"`
	SeverityNote string            `json:"severityNote,omitempty"`
	Description  string            `json:"description"`
	Remediation  string            `json:"remediation"`
	References   []rules.Reference `json:"references"`
}

// InputError is a problem with the input.
type InputError struct {
	Source  model.Source     `json:"source"`
	Object  *model.ObjectRef `json:"object,omitempty"`
	Message string           `json:"message"`
}
