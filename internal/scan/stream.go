package scan

import (
	"context"
	"errors"
	"io"
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// Plan is a scan of files evaluated one group of namespaces at a time, so
// that memory holds the cluster-scoped input and one group, not the whole
// cluster (manifest.Index explains the two passes). Prepare reads every
// input once and knows every input error before anything is reported; Parts
// then evaluates the groups. Together they give the verdicts and findings
// Run gives; TestStreamMatchesRun holds them to it.
type Plan struct {
	// Result is the cluster-scoped part: its inventory has no namespaced
	// objects, its analysis no workloads, and its findings are those of the
	// cluster-scoped rules. InputErrors, Files, Skipped, Clouds and Warnings
	// (those about the config file) are the whole scan's.
	*Result
	index *manifest.Index
	st    *setup
	ev    evaluation
	// The warnings about annotations, sorted, come before those about the
	// config file, as in Run.
	annotationWarnings, configWarnings []string
}

// Prepare runs the first pass over the files of o (o.Live must be nil).
func Prepare(ctx context.Context, o Options) (*Plan, error) {
	if o.Live != nil {
		return nil, errors.New("scan.Prepare: live clusters are scanned with Run")
	}
	st, err := newSetup(o)
	if err != nil {
		return nil, err
	}
	paths, files := splitTerraform(o.Paths)
	ix, err := manifest.LoadIndex(ctx, paths, manifest.Options{Stdin: o.Stdin, MaxDocumentBytes: o.MaxDocumentBytes})
	if err != nil {
		if ix != nil {
			_ = ix.Close()
		}
		return nil, err
	}
	withTerraform(ctx, files, ix.Result)
	if err := ctx.Err(); err != nil {
		_ = ix.Close()
		return nil, err
	}
	inv := ix.Inventory
	ev := st.evaluation(inv)
	reg := rules.Default()
	// The cluster-scoped rules read only what this inventory holds; its
	// namespaces are left out of the suppression index so that their
	// annotations are checked once, with their group.
	a := reach.Evaluate(inv, ev.targets, ev.opts...)
	findings := reg.Run(&rules.Context{Inventory: inv, Analysis: a, KeepOpen: ev.keepOpen, Scope: rules.ClusterRules})
	clusterOnly := *inv
	clusterOnly.Namespaces = nil
	annotations, cfgWarnings := reg.Apply(findings, &clusterOnly, st.cfg), reg.ConfigWarnings(st.cfg)
	res := &Result{Inventory: inv, Analysis: a, Findings: findings, Clouds: ev.clouds, InputErrors: ix.Errors,
		Warnings: append(append([]string{}, annotations...), cfgWarnings...), Files: ix.Files, Skipped: ix.Skipped,
		Registry: reg, Version: o.Version, KeepOpen: ev.keepOpen}
	return &Plan{Result: res, index: ix, st: st, ev: ev, annotationWarnings: annotations, configWarnings: cfgWarnings}, nil
}

// Parts evaluates the groups in order of their first namespace and calls fn
// with each: a Result whose inventory holds the group's namespaces, their
// objects and the cluster-scoped objects, whose findings are those of the
// namespaced rules, and whose warnings are about the group's annotations.
// Every namespace is in exactly one part. fn must not keep the part.
func (p *Plan) Parts(ctx context.Context, fn func(part *Result) error) error {
	base := p.Inventory
	var clusterStubs []*model.PolicyStub
	for _, s := range base.Unsupported {
		if s.ClusterScoped {
			clusterStubs = append(clusterStubs, s)
		}
	}
	// The index keeps only the global Calico and clusterwide Cilium policies.
	global, clusterwide := base.CalicoPolicies, base.CiliumPolicies
	return p.index.Each(ctx, func(_ manifest.Group, inv *model.Inventory) error {
		inv.Nodes = base.Nodes
		inv.AdminPolicies = base.AdminPolicies
		inv.NodeConfigs = base.NodeConfigs
		inv.NodeConfigGaps = base.NodeConfigGaps
		inv.Unsupported = append(clusterStubs[:len(clusterStubs):len(clusterStubs)], inv.Unsupported...)
		inv.CalicoPolicies = append(global[:len(global):len(global)], inv.CalicoPolicies...)
		inv.CalicoTiers = base.CalicoTiers
		inv.CiliumPolicies = append(clusterwide[:len(clusterwide):len(clusterwide)], inv.CiliumPolicies...)
		a := reach.Evaluate(inv, p.ev.targets, p.ev.opts...)
		findings := p.Registry.Run(&rules.Context{Inventory: inv, Analysis: a, KeepOpen: p.ev.keepOpen, Scope: rules.NamespacedRules})
		warnings := p.Registry.Apply(findings, inv, p.st.cfg)
		return fn(&Result{Inventory: inv, Analysis: a, Findings: findings, Clouds: p.Clouds, Warnings: warnings,
			Registry: p.Registry, Version: p.Version, KeepOpen: p.KeepOpen})
	})
}

// Close removes what the first pass left on disk (a copy of stdin).
func (p *Plan) Close() error { return p.index.Close() }

// Render writes the report of the scan in format f (report.CanStream),
// evaluating the groups one at a time. seen is called with the findings of
// the cluster-scoped rules and then of every part, for the exit code. After
// Render, p.Warnings holds the whole scan's warnings.
func (p *Plan) Render(ctx context.Context, w io.Writer, f report.Format, o report.Options, seen func([]rules.Finding)) error {
	head := p.Document()
	stream, err := report.NewStream(w, f, o, head)
	if err != nil {
		return err
	}
	seen(p.Findings)
	annotations := p.annotationWarnings
	err = p.Parts(ctx, func(part *Result) error {
		d := part.Document()
		addCounts(&head.Summary, &d.Summary)
		annotations = append(annotations, part.Warnings...)
		seen(part.Findings)
		return stream.Add(d)
	})
	if err != nil {
		stream.Abort()
		return err
	}
	sort.Strings(annotations)
	p.Warnings = append(annotations, p.configWarnings...)
	head.Warnings = nonNil(p.Warnings)
	return stream.Close(head)
}

// addCounts adds a part's workload and finding counts to the whole scan's.
func addCounts(to, part *report.Summary) {
	to.Workloads += part.Workloads
	to.Suppressed += part.Suppressed
	for _, m := range [][2]map[string]int{{to.Verdicts, part.Verdicts}, {to.DecidedBy, part.DecidedBy}, {to.Findings, part.Findings}} {
		for k, v := range m[1] {
			m[0][k] += v
		}
	}
}
