package report

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// SARIF constants. The schema URI is the OASIS-published one; the tests
// validate against a copy in testdata/.
const (
	sarifVersion   = "2.1.0"
	sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json"
	informationURI = "https://github.com/imdsguard/imdsguard"
	// fingerprintKey names our partialFingerprints entry; the suffix
	// versions the hash recipe.
	fingerprintKey = "imdsguardFindingHash/v1"
)

// The SARIF subset we write. Field order follows the specification's.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool              sarifTool         `json:"tool"`
		Invocations       []sarifInvocation `json:"invocations"`
		AutomationDetails *sarifAutomation  `json:"automationDetails,omitempty"`
		Results           []sarifResult     `json:"results"`
	}
	// sarifAutomation names the cluster a run describes, so that code
	// scanning tools keep one cluster's results apart from another's.
	sarifAutomation struct {
		ID string `json:"id"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string          `json:"id"`
		Name                 string          `json:"name,omitempty"`
		ShortDescription     sarifText       `json:"shortDescription"`
		FullDescription      sarifText       `json:"fullDescription"`
		Help                 sarifText       `json:"help"`
		HelpURI              string          `json:"helpUri,omitempty"`
		DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
		Properties           sarifRuleProps  `json:"properties"`
	}
	sarifText struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown,omitempty"`
	}
	sarifRuleConfig struct {
		Level string `json:"level"`
	}
	sarifRuleProps struct {
		Tags             []string `json:"tags"`
		SecuritySeverity string   `json:"security-severity"`
		Severity         string   `json:"severity"`
	}
	sarifInvocation struct {
		ExecutionSuccessful            bool                `json:"executionSuccessful"`
		ToolExecutionNotifications     []sarifNotification `json:"toolExecutionNotifications,omitempty"`
		ToolConfigurationNotifications []sarifNotification `json:"toolConfigurationNotifications,omitempty"`
	}
	sarifNotification struct {
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations,omitempty"`
	}
	sarifResult struct {
		RuleID              string             `json:"ruleId"`
		RuleIndex           *int               `json:"ruleIndex,omitempty"`
		Level               string             `json:"level"`
		Message             sarifText          `json:"message"`
		Locations           []sarifLocation    `json:"locations"`
		PartialFingerprints map[string]string  `json:"partialFingerprints"`
		RelatedLocations    []sarifLocation    `json:"relatedLocations,omitempty"`
		Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
		Properties          sarifResultProps   `json:"properties"`
	}
	sarifResultProps struct {
		Namespace string   `json:"namespace,omitempty"`
		Object    string   `json:"object"`
		Severity  string   `json:"severity"`
		Targets   []string `json:"targets"`
	}
	sarifLocation struct {
		ID               *int                   `json:"id,omitempty"`
		PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
		Message          *sarifText             `json:"message,omitempty"`
	}
	sarifPhysicalLocation struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           *sarifRegion          `json:"region,omitempty"`
	}
	sarifArtifactLocation struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
	}
	sarifLogicalLocation struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
	sarifSuppression struct {
		Kind          string         `json:"kind"`
		Status        string         `json:"status"`
		Justification string         `json:"justification,omitempty"`
		Location      *sarifLocation `json:"location,omitempty"`
	}
)

// renderSARIF writes the document as one SARIF 2.1.0 run.
func renderSARIF(w io.Writer, d *Document) error {
	return renderSARIFRuns(w, []ClusterDocument{{Document: d}})
}

// renderSARIFRuns writes one SARIF log with a run per document; a run of a
// named cluster carries the cluster in automationDetails.
func renderSARIFRuns(w io.Writer, docs []ClusterDocument) error {
	log := sarifLog{Schema: sarifSchemaURI, Version: sarifVersion, Runs: []sarifRun{}}
	var arrays []streamedArray
	for _, cd := range docs {
		run, index := sarifRunOf(cd)
		log.Runs = append(log.Runs, run)
		d := cd.Document
		// Results are streamed: a large cluster has tens of thousands.
		arrays = append(arrays, streamedArray{indent: "      ", key: "results", n: len(d.Findings), item: func(k int) any { return indexedResult(d.Findings[k], index) }})
	}
	head, err := marshalIndent(log, "")
	if err != nil {
		return err
	}
	return writeStreamed(w, head, arrays)
}

func sarifRunOf(cd ClusterDocument) (sarifRun, map[string]int) {
	d := cd.Document
	name := d.Tool.Name
	if name == "" {
		name = "imdsguard"
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: name, Version: d.Tool.Version,
			InformationURI: informationURI, Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{invocation(d)},
		Results:     []sarifResult{},
	}
	if cd.Cluster != "" {
		run.AutomationDetails = &sarifAutomation{ID: "imdsguard/" + cd.Cluster + "/"}
	}
	index := map[string]int{}
	for i, r := range d.Rules {
		index[r.ID] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(r))
	}
	return run, index
}

// indexedResult is the SARIF result of a finding, pointing at its rule in
// the run's rule list.
func indexedResult(f rules.Finding, index map[string]int) sarifResult {
	res := resultOf(f)
	if i, ok := index[f.RuleID]; ok {
		res.RuleIndex = &i
	}
	return res
}

// level maps a severity to a SARIF level.
func level(s rules.Severity) string {
	switch s {
	case rules.Critical, rules.High:
		return "error"
	case rules.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub code scanning reads from
// a rule's "security-severity" property to rank alerts.
func securitySeverity(s rules.Severity) string {
	return [...]string{rules.Info: "1.0", rules.Low: "3.0", rules.Medium: "5.5", rules.High: "8.0", rules.Critical: "9.5"}[s]
}

func sarifRuleOf(r Rule) sarifRule {
	text, md := r.Remediation, r.Remediation
	if len(r.References) > 0 {
		text += "\n\nReferences:"
		md += "\n\n**References**\n"
		for _, ref := range r.References {
			text += "\n- " + ref.Name
			if ref.URL == "" {
				md += "\n- " + ref.Name
				continue
			}
			text += " " + ref.URL
			md += "\n- [" + ref.Name + "](" + ref.URL + ")"
		}
	}
	return sarifRule{
		ID:                   r.ID,
		Name:                 r.Name,
		ShortDescription:     sarifText{Text: r.Title},
		FullDescription:      sarifText{Text: r.Description},
		Help:                 sarifText{Text: text, Markdown: md},
		DefaultConfiguration: sarifRuleConfig{Level: level(r.Severity)},
		Properties: sarifRuleProps{
			Tags:             []string{"security", "kubernetes", "MITRE-ATT&CK-T1552.005"},
			SecuritySeverity: securitySeverity(r.Severity),
			Severity:         r.Severity.String(),
		},
	}
}

func resultOf(f rules.Finding) sarifResult {
	res := sarifResult{
		RuleID:              f.RuleID,
		Level:               level(f.Severity),
		Message:             sarifText{Text: f.Message},
		Locations:           []sarifLocation{location(f.Object, f.Source, "")},
		PartialFingerprints: map[string]string{fingerprintKey: fingerprint(f)},
		Properties: sarifResultProps{Namespace: f.Namespace, Object: f.Object.String(),
			Severity: f.Severity.String(), Targets: orEmpty(f.Targets)},
	}
	for i, r := range f.Related {
		note := r.Note
		if note == "" {
			note = r.Object.String()
		}
		l := location(r.Object, r.Source, note)
		id := i + 1
		l.ID = &id
		res.RelatedLocations = append(res.RelatedLocations, l)
	}
	if s := f.Suppressed; s != nil {
		sup := sarifSuppression{Kind: "external", Status: "accepted", Justification: s.Reason}
		if s.By == "annotation" {
			sup.Kind = "inSource"
		}
		if s.Source.File != "" {
			l := sarifLocation{PhysicalLocation: physical(s.Source)}
			sup.Location = &l
		}
		res.Suppressions = []sarifSuppression{sup}
	}
	return res
}

// fingerprint identifies a finding across runs: the same rule, object and
// message give the same hash wherever the object moved in its file.
func fingerprint(f rules.Finding) string {
	h := sha256.Sum256([]byte(f.RuleID + "\x00" + f.Object.Key() + "\x00" + f.Message))
	return hex.EncodeToString(h[:])
}

// location points at an object: at its file and line when it came from a
// file, and always by name as a logical location, which is all a live
// cluster scan has.
func location(obj model.ObjectRef, src model.Source, msg string) sarifLocation {
	l := sarifLocation{PhysicalLocation: physical(src)}
	if obj.Kind != "" || obj.Name != "" {
		l.LogicalLocations = []sarifLogicalLocation{{Name: obj.Name, FullyQualifiedName: obj.Key(), Kind: "resource"}}
	}
	if msg != "" {
		l.Message = &sarifText{Text: msg}
	}
	return l
}

func physical(src model.Source) *sarifPhysicalLocation {
	if src.File == "" {
		return nil
	}
	p := &sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: fileURI(src.File)}}
	if src.Line > 0 {
		p.Region = &sarifRegion{StartLine: src.Line}
	}
	return p
}

// fileURI turns a path into a URI reference: relative paths stay relative
// (with forward slashes and percent-escapes), absolute ones become file URIs.
func fileURI(p string) string {
	slashed := filepath.ToSlash(p)
	if filepath.IsAbs(p) {
		if !strings.HasPrefix(slashed, "/") {
			slashed = "/" + slashed // a Windows drive letter
		}
		return (&url.URL{Scheme: "file", Path: slashed}).String()
	}
	return (&url.URL{Path: slashed}).String()
}

// invocation reports input errors as execution notifications and warnings
// (suppressions that were not honoured) as configuration notifications.
func invocation(d *Document) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: len(d.Errors) == 0}
	for _, e := range d.Errors {
		n := sarifNotification{Level: "error", Message: sarifText{Text: e.Message}}
		var obj model.ObjectRef
		if e.Object != nil {
			obj = *e.Object
		}
		if l := location(obj, e.Source, ""); l.PhysicalLocation != nil || l.LogicalLocations != nil {
			n.Locations = []sarifLocation{l}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for _, w := range d.Warnings {
		inv.ToolConfigurationNotifications = append(inv.ToolConfigurationNotifications,
			sarifNotification{Level: "warning", Message: sarifText{Text: w}})
	}
	return inv
}
