package scan

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/imdsguard/imdsguard/internal/config"
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// Options configure a scan. Zero values mean the defaults.
type Options struct {
	Paths []string
	Stdin io.Reader
	// Cloud is a cloud name, "auto" (from Node objects, else all) or "all".
	Cloud string
	// ExtraEndpoints are --endpoint values.
	ExtraEndpoints []string
	ConfigFile     string
	// NodeProfiles are --node-profile values: node settings declared for
	// every node of a cloud.
	NodeProfiles []string
	// MaxDocumentBytes bounds one YAML document; 0 means the loader default.
	MaxDocumentBytes int64
	Version          string
	// Live, when set, reads a live cluster instead of Paths and Stdin. It
	// returns the inventory and its input errors, or an error when the
	// cluster cannot be read at all.
	Live func(context.Context) (*model.Inventory, []*manifest.InputError, error)
}

// UsageError reports a bad option, as opposed to bad input.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Result is everything a scan produced.
type Result struct {
	Inventory   *model.Inventory
	Analysis    *reach.Analysis
	Findings    []rules.Finding
	Clouds      []endpoints.Cloud
	InputErrors []*manifest.InputError
	Warnings    []string
	Files       []string
	Skipped     []string
	Registry    *rules.Registry
	Version     string
	// KeepOpen are the node-local services checked for over-broad blocks.
	KeepOpen []reach.Target
}

// Run loads the inputs and evaluates them. Input errors do not stop it: they
// are returned in Result.InputErrors, and the verdicts they could affect are
// Unknown. A returned error is a usage error.
func Run(ctx context.Context, o Options) (*Result, error) {
	st, err := newSetup(o)
	if err != nil {
		return nil, err
	}
	var loaded *manifest.Result
	if o.Live != nil {
		inv, errs, err := o.Live(ctx)
		if err != nil {
			return nil, err
		}
		loaded = &manifest.Result{Inventory: inv, Errors: errs}
	} else {
		paths, files := splitTerraform(o.Paths)
		loaded = manifest.Load(ctx, paths, manifest.Options{Stdin: o.Stdin, MaxDocumentBytes: o.MaxDocumentBytes})
		withTerraform(ctx, files, loaded)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv := loaded.Inventory
	ev := st.evaluation(inv)
	a := reach.Evaluate(inv, ev.targets, ev.opts...)
	reg := rules.Default()
	findings := reg.Run(&rules.Context{Inventory: inv, Analysis: a, KeepOpen: ev.keepOpen})
	warnings := reg.Suppress(findings, inv, st.cfg)
	return &Result{Inventory: inv, Analysis: a, Findings: findings, Clouds: ev.clouds, InputErrors: loaded.Errors,
		Warnings: warnings, Files: loaded.Files, Skipped: loaded.Skipped, Registry: reg, Version: o.Version, KeepOpen: ev.keepOpen}, nil
}

// setup holds the options checked before anything is read.
type setup struct {
	eps      func([]endpoints.Cloud) []endpoints.Endpoint
	cloudFor func(*model.Inventory) []endpoints.Cloud
	cfg      []rules.ConfigSuppression
	profiles []*model.NodeConfig
}

func newSetup(o Options) (*setup, error) {
	eps, cloudFor, err := endpointPlan(o)
	if err != nil {
		return nil, &UsageError{err}
	}
	st := &setup{eps: eps, cloudFor: cloudFor}
	if o.ConfigFile != "" {
		c, err := config.Load(o.ConfigFile)
		if err != nil {
			return nil, &UsageError{err}
		}
		st.cfg, st.profiles = c.Suppressions, c.NodeProfiles
	}
	for _, s := range o.NodeProfiles {
		p, err := config.ParseNodeProfileFlag(s)
		if err != nil {
			return nil, &UsageError{err}
		}
		st.profiles = append(st.profiles, p)
	}
	return st, nil
}

// evaluation is what the cluster-scoped input decides: the clouds, the
// targets and the node layer.
type evaluation struct {
	clouds   []endpoints.Cloud
	targets  []reach.Target
	keepOpen []reach.Target
	opts     []reach.Option
}

// evaluation adds the node profiles to inv and makes the choices that
// depend on Nodes and node settings.
func (st *setup) evaluation(inv *model.Inventory) evaluation {
	inv.NodeConfigs = append(inv.NodeConfigs, st.profiles...)
	ev := evaluation{clouds: st.cloudFor(inv)}
	ev.targets = reach.Targets(st.eps(ev.clouds))
	reach.SortTargets(ev.targets)
	ev.keepOpen = reach.Targets(endpoints.KeepOpen(ev.clouds...))
	reach.SortTargets(ev.keepOpen)
	if n := newNodeLayer(inv); n != nil {
		ev.opts = append(ev.opts, reach.WithNodeLayer(n))
	}
	return ev
}

// withTerraform reads the Terraform files named and the Terraform roots
// found while walking directories into loaded.
func withTerraform(ctx context.Context, files []string, loaded *manifest.Result) {
	roots, nested := terraformRoots(loaded.Skipped)
	loadTerraform(ctx, append(files, roots...), loaded)
	loaded.Skipped = append(loaded.Skipped, nested...)
}

// endpointPlan validates the cloud and endpoint options up front, and
// returns functions that finish the choice once Node objects are loaded.
func endpointPlan(o Options) (func([]endpoints.Cloud) []endpoints.Endpoint, func(*model.Inventory) []endpoints.Cloud, error) {
	cloud := o.Cloud
	if cloud == "" {
		cloud = "auto"
	}
	c, err := endpoints.ParseCloud(cloud)
	if err != nil {
		return nil, nil, err
	}
	var extra []endpoints.Endpoint
	for _, s := range o.ExtraEndpoints {
		e, err := endpoints.ParseExtra(s)
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, e)
	}
	eps := func(clouds []endpoints.Cloud) []endpoints.Endpoint {
		return append(endpoints.ForClouds(clouds...), extra...)
	}
	cloudFor := func(inv *model.Inventory) []endpoints.Cloud {
		switch c {
		case "all":
			return endpoints.Clouds()
		case "auto":
			if d := endpoints.Detect(inv.Nodes); len(d) > 0 {
				return d
			}
			if d := nodeConfigClouds(inv.NodeConfigs); len(d) > 0 {
				return d
			}
			return endpoints.Clouds()
		}
		return []endpoints.Cloud{c}
	}
	return eps, cloudFor, nil
}

// FindWorkload looks a workload up by "namespace/kind/name" (kind matched
// case-insensitively).
func (r *Result) FindWorkload(key string) (*reach.WorkloadResult, error) {
	var names []string
	for _, wr := range r.Analysis.Workloads {
		if equalKey(wr.Workload.Ref, key) {
			return wr, nil
		}
		names = append(names, wr.Workload.Ref.Key())
	}
	sort.Strings(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return nil, fmt.Errorf("no workload %q (want NAMESPACE/KIND/NAME; known: %v)", key, names)
}

// nodeConfigClouds returns the clouds of the node settings read, sorted: with
// no Node objects, infrastructure code says which cloud the cluster runs on.
func nodeConfigClouds(cfgs []*model.NodeConfig) []endpoints.Cloud {
	seen := map[endpoints.Cloud]bool{}
	var out []endpoints.Cloud
	for _, c := range cfgs {
		if cl := endpoints.Cloud(c.Cloud); !seen[cl] {
			if _, err := endpoints.ParseCloud(c.Cloud); err == nil {
				seen[cl] = true
				out = append(out, cl)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
