// Package generate is the `imdsguard generate` command: mitigations for what
// a scan found, and the proof that they close it.
package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/imdsguard/imdsguard/internal/cli"
	gen "github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/version"
)

// Flags are generate's flags; fix shares them.
type Flags struct {
	Input        cli.InputFlags
	Include      []string
	ClusterKinds []string
	Admission    []string
	ExemptNS     []string
	ExemptLabel  string
	DefaultDeny  bool
	Name         string
	OutputDir    string
}

// DefaultInclude are the groups generated unless --include says otherwise.
var DefaultInclude = []string{string(gen.GroupNamespace), string(gen.GroupPatch), string(gen.GroupAdmission)}

// Add registers the flags that shape what is generated.
func (f *Flags) Add(cmd *cobra.Command) {
	f.Input.Add(cmd.Flags())
	groups := make([]string, len(gen.Groups))
	for i, g := range gen.Groups {
		groups[i] = string(g)
	}
	cmd.Flags().StringSliceVar(&f.Include, "include", DefaultInclude, "what to generate: "+strings.Join(groups, ", "))
	cmd.Flags().StringSliceVar(&f.ClusterKinds, "cluster-kinds", []string{"anp"}, "cluster-wide policy kinds for --include cluster: anp, banp, cnp, cilium, calico")
	cmd.Flags().StringSliceVar(&f.Admission, "admission-kinds", []string{"vap"}, "admission policy forms for --include admission: "+strings.Join(gen.AdmissionKindNames, ", "))
	cmd.Flags().StringSliceVar(&f.ExemptNS, "exempt-namespace", []string{"kube-system"}, "namespaces left alone (repeatable; --exempt-namespace= for none)")
	cmd.Flags().StringVar(&f.ExemptLabel, "exempt-label", gen.DefaultExemptLabel+"="+gen.DefaultExemptValue, "namespace label KEY=VALUE that exempts a namespace")
	cmd.Flags().BoolVar(&f.DefaultDeny, "default-deny", false, "per-namespace policies deny all egress but DNS and node-local services, instead of all but metadata")
	cmd.Flags().StringVar(&f.Name, "name", gen.DefaultName, "name of generated objects")
}

// NewCommand returns the generate command.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &Flags{}
	cmd := &cobra.Command{
		Use:   "generate [flags] PATH... | - | -A | --context NAME",
		Short: "Generate the policies that close every metadata path a scan finds, and prove they do",
		Long: "Scans the inputs as `imdsguard scan` does, then generates: a NetworkPolicy for every namespace " +
			"with pods that no egress policy isolates (selecting only those pods, so no existing policy is widened), " +
			"patches for policies that re-open a metadata address, and, with --include, cluster-wide policies, " +
			"admission policies against hostNetwork, Falco rules and node-setting fixes.\n\n" +
			"Before writing anything it proves the result: the generated NetworkPolicies are read back, applied to " +
			"the inputs and every workload is evaluated again. What stays open is listed on stderr.\n\n" +
			"Exit codes: 0 every pod-network workload outside exempt namespaces is closed; 1 something stays open " +
			"(listed); 2 an input or usage error.",
		Example: "  imdsguard generate ./manifests > mitigations.yaml\n" +
			"  imdsguard generate ./manifests --output-dir ./imdsguard-fix && kubectl apply -k ./imdsguard-fix\n" +
			"  imdsguard generate -A --include namespace,patch,cluster --cluster-kinds anp,cilium",
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd, s, f, args)
		},
	}
	f.Add(cmd)
	cmd.Flags().StringVarP(&f.OutputDir, "output-dir", "o", "", "write one file per artifact, the JSON patches and a kustomization.yaml to this directory instead of a YAML stream on stdout")
	return cmd
}

// Generated is the result of Generate: the set and its proof (nil when
// generated from a report, which cannot be evaluated again).
type Generated struct {
	Set   *gen.Set
	Proof *gen.Proof
}

// fromReport generates from a scan's JSON report when the one input is one.
func fromReport(args []string, stdin []byte, include map[gen.Group]bool, opts gen.Options) (*Generated, bool, error) {
	if len(args) != 1 {
		return nil, false, nil
	}
	data := stdin
	if args[0] != "-" {
		st, err := os.Stat(args[0])
		if err != nil || st.IsDir() || !strings.HasSuffix(args[0], ".json") {
			return nil, false, nil
		}
		if data, err = os.ReadFile(args[0]); err != nil {
			return nil, false, &cli.ExitError{Code: cli.ExitInput, Err: err}
		}
	}
	if !gen.IsReport(data) {
		return nil, false, nil
	}
	var doc report.Document
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, true, &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%s: reading the scan report: %v", args[0], err)}
	}
	if !doc.Complete {
		return nil, true, &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%s: the scan report is incomplete (it had input errors); generate from it would rest on Unknown verdicts", args[0])}
	}
	set, err := gen.FromReport(&doc, opts, include, &gen.FileOriginals{})
	if err != nil {
		return nil, true, &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%s: %v", args[0], err)}
	}
	return &Generated{Set: set}, true, nil
}

// Generate scans and generates as the flags say.
func Generate(cmd *cobra.Command, s cli.Streams, f *Flags, args []string) (*Generated, error) {
	include, opts, err := f.options()
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	var stdin []byte
	if slices.Contains(args, "-") {
		if stdin, err = io.ReadAll(s.In); err != nil {
			return nil, &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("reading stdin: %w", err)}
		}
		s.In = bytes.NewReader(stdin)
	}
	if g, ok, err := fromReport(args, stdin, include, opts); ok || err != nil {
		return g, err
	}
	res, err := f.Input.Scan(cmd.Context(), s, args, version.Get().Version)
	if err != nil {
		return nil, err
	}
	in := gen.Input{Inventory: res.Inventory, Analysis: res.Analysis, KeepOpen: res.KeepOpen}
	if f.Input.Live() {
		c, err := f.Input.Cluster()
		if err != nil {
			return nil, err
		}
		client, err := kubernetes.NewForConfig(c.Config)
		if err != nil {
			return nil, &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
		in.Originals = &liveOriginals{ctx: cmd.Context(), client: client}
	} else {
		in.Originals = &gen.FileOriginals{Stdin: stdin}
	}
	set, err := gen.Build(in, opts, include)
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	proof, err := gen.Prove(in, set, opts)
	if err != nil {
		return nil, err
	}
	return &Generated{Set: set, Proof: proof}, nil
}

func run(cmd *cobra.Command, s cli.Streams, f *Flags, args []string) error {
	g, err := Generate(cmd, s, f, args)
	if err != nil {
		return err
	}
	if f.OutputDir != "" {
		if err := gen.WriteDir(f.OutputDir, g.Set); err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
	} else if err := gen.WriteStream(s.Out, g.Set); err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	Summarize(s.ErrOut, g)
	if g.Proof != nil && !g.Proof.OK() {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
}

// Summarize writes what was generated and what the proof showed.
func Summarize(w io.Writer, g *Generated) {
	counts := map[gen.Group]int{}
	for _, a := range g.Set.Artifacts {
		counts[a.Group]++
	}
	var parts []string
	for _, grp := range gen.Groups {
		if counts[grp] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", grp, counts[grp]))
		}
	}
	if len(parts) == 0 {
		parts = []string{"nothing"}
	}
	fmt.Fprintf(w, "generated: %s\n", strings.Join(parts, ", "))
	p := g.Proof
	if p == nil {
		fmt.Fprintln(w, "proof: none: a scan report cannot be evaluated again; run generate on the scanned inputs or the cluster to prove the result")
		p = &gen.Proof{}
		for _, gp := range g.Set.Open {
			if gp.Object.Kind != "NetworkPolicy" && gp.Object.Kind != "Namespace" {
				p.Open = append(p.Open, gp)
			}
		}
	} else {
		fmt.Fprintf(w, "proof: %d of %d workloads outside exempt namespaces reach no metadata address with the generated policies applied", p.Closed, p.Workloads)
		if n := len(g.Set.Exempt); n > 0 {
			fmt.Fprintf(w, " (%d exempt)", n)
		}
		fmt.Fprintln(w)
	}
	unproved := 0
	for i := range g.Set.Artifacts {
		if a := &g.Set.Artifacts[i]; a.Group == gen.GroupCluster && !gen.InProof(a) {
			unproved++
		}
	}
	if unproved > 0 {
		fmt.Fprintf(w, "note: %d cluster-wide object(s) are not part of the proof (it covers NetworkPolicies, AdminNetworkPolicies, BaselineAdminNetworkPolicies, ClusterNetworkPolicies, CiliumClusterwideNetworkPolicies and Calico GlobalNetworkPolicies with their Tier)\n", unproved)
	}
	var gaps []string
	for _, gp := range p.Open {
		gaps = append(gaps, fmt.Sprintf("  open: %s %s/%s (%s): %s", gp.Object.Kind, gp.Object.Namespace, gp.Object.Name, gp.Source, gp.Why))
	}
	for _, gp := range g.Set.Open {
		if gp.Object.Kind == "NetworkPolicy" || gp.Object.Kind == "Namespace" {
			gaps = append(gaps, fmt.Sprintf("  not generated: %s %s (%s): %s", gp.Object.Kind, name(gp), gp.Source, gp.Why))
		}
	}
	for _, gp := range p.Loosened {
		gaps = append(gaps, fmt.Sprintf("  BUG, widened: %s %s/%s: %s", gp.Object.Kind, gp.Object.Namespace, gp.Object.Name, gp.Why))
	}
	for _, gp := range p.LostKeepOpen {
		gaps = append(gaps, fmt.Sprintf("  BUG, cut off: %s %s/%s: %s", gp.Object.Kind, gp.Object.Namespace, gp.Object.Name, gp.Why))
	}
	sort.Strings(gaps)
	for _, l := range gaps {
		fmt.Fprintln(w, l)
	}
}

func name(g gen.Gap) string {
	if g.Object.Namespace == "" {
		return g.Object.Name
	}
	return g.Object.Namespace + "/" + g.Object.Name
}

// options turns the flags into generator options.
func (f *Flags) options() (map[gen.Group]bool, gen.Options, error) {
	include := map[gen.Group]bool{}
	for _, g := range f.Include {
		if !slices.Contains(gen.Groups, gen.Group(g)) {
			return nil, gen.Options{}, fmt.Errorf("--include: unknown group %q", g)
		}
		include[gen.Group(g)] = true
	}
	o := gen.Options{Name: f.Name, DefaultDeny: f.DefaultDeny, ClusterKinds: f.ClusterKinds, AdmissionKinds: f.Admission}
	if len(f.Admission) == 0 {
		return nil, gen.Options{}, fmt.Errorf("--admission-kinds: give at least one of %s", strings.Join(gen.AdmissionKindNames, ", "))
	}
	for _, n := range f.ExemptNS {
		if n != "" {
			o.ExemptNamespaces = append(o.ExemptNamespaces, n)
		}
	}
	if f.ExemptLabel != "" {
		k, v, ok := strings.Cut(f.ExemptLabel, "=")
		if !ok || k == "" {
			return nil, gen.Options{}, fmt.Errorf("--exempt-label must be KEY=VALUE, not %q", f.ExemptLabel)
		}
		o.ExemptLabel, o.ExemptValue = k, v
	}
	return include, o, nil
}
