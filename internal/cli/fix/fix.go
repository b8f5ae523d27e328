// Package fix is the `imdsguard fix` command: generate the mitigations for a
// live cluster, show the diff, and apply them with server-side apply.
package fix

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/cli"
	cligen "github.com/imdsguard/imdsguard/internal/cli/generate"
	gen "github.com/imdsguard/imdsguard/internal/generate"
)

// FieldManager is the server-side apply field manager of every change.
const FieldManager = "imdsguard"

type flags struct {
	gen    cligen.Flags
	apply  bool
	yes    bool
	dryRun string
}

// NewCommand returns the fix command.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "fix [flags] -A | -n NAMESPACE | --context NAME",
		Short: "Apply the generated mitigations to a live cluster with server-side apply",
		Long: "Scans a live cluster, generates what `imdsguard generate` would (and proves it the same way), " +
			"and shows, object by object, the diff against what the cluster holds. With --apply it applies the " +
			"changes with server-side apply (field manager \"imdsguard\") after asking, unless --yes is given.\n\n" +
			"New objects are created; a policy that re-opens metadata is patched in spec.egress only (imdsguard " +
			"takes ownership of that list, every other field stays with its owner). Nothing is ever deleted.\n\n" +
			"Exit codes: 0 done (or nothing to do); 1 the proof leaves something open, or the change was declined; " +
			"2 a usage or input error, or the API server refused a change.",
		Example: "  imdsguard fix -A                        # show the diff\n" +
			"  imdsguard fix -A --apply --dry-run=server\n" +
			"  imdsguard fix --context prod -A --apply --yes",
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd, s, f, args) },
	}
	f.gen.Add(cmd)
	cmd.Flags().BoolVar(&f.apply, "apply", false, "apply the changes (otherwise only show the diff)")
	cmd.Flags().BoolVarP(&f.yes, "yes", "y", false, "apply without asking")
	cmd.Flags().StringVar(&f.dryRun, "dry-run", "none", "none, or server: the API server validates and admits every change without persisting it")
	return cmd
}

// change is one object to apply.
type change struct {
	art *gen.Artifact
	// body is the apply configuration sent to the server.
	body *unstructured.Unstructured
	// force takes ownership of fields another manager holds (patched
	// policies' spec.egress).
	force    bool
	resource dynamic.ResourceInterface
	diff     string
	create   bool
}

func run(cmd *cobra.Command, s cli.Streams, f *flags, args []string) error {
	if f.dryRun != "none" && f.dryRun != "server" {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--dry-run must be none or server, not %q", f.dryRun)}
	}
	if len(args) > 0 || !f.gen.Input.Live() {
		return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("fix acts on a live cluster: give -A, -n NAMESPACE, --context or --kubeconfig, and no files (for files, use generate)")}
	}
	for _, g := range f.gen.Include {
		if g == string(gen.GroupNode) || g == string(gen.GroupDetection) {
			return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--include %s: fix applies Kubernetes objects only; write node and detection output with generate --output-dir", g)}
		}
	}
	g, err := cligen.Generate(cmd, s, &f.gen, args)
	if err != nil {
		return err
	}
	cluster, err := f.gen.Input.Cluster()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cluster.Config)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	ctx := cmd.Context()
	var changes []*change
	unchanged := 0
	var failed []string
	for i := range g.Set.Artifacts {
		a := &g.Set.Artifacts[i]
		c, err := plan(ctx, a, dyn, mapper)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", objName(a.Object), err))
			continue
		}
		if c == nil {
			unchanged++
			continue
		}
		changes = append(changes, c)
		fmt.Fprint(s.Out, c.diff)
	}
	cligen.Summarize(s.ErrOut, g)
	creates := 0
	for _, c := range changes {
		if c.create {
			creates++
		}
	}
	fmt.Fprintf(s.ErrOut, "cluster %s: %d to create, %d to change, %d unchanged\n", cluster.Name, creates, len(changes)-creates, unchanged)
	if len(failed) > 0 {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("cannot plan %d object(s):\n  %s", len(failed), strings.Join(failed, "\n  "))}
	}
	if !f.apply || len(changes) == 0 {
		return proofExit(g)
	}
	dry := f.dryRun == "server"
	if !f.yes && !dry {
		fmt.Fprintf(s.ErrOut, "Apply these %d change(s) to cluster %s? [y/N] ", len(changes), cluster.Name)
		line, _ := bufio.NewReader(s.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return &cli.ExitError{Code: cli.ExitFindings, Err: errors.New("declined; nothing applied")}
		}
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	suffix := ""
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
		suffix = " (server dry run)"
	}
	for _, c := range changes {
		o := opts
		force := c.force
		o.Force = &force
		body, err := json.Marshal(c.body.Object)
		if err != nil {
			return err
		}
		_, err = c.resource.Patch(ctx, c.body.GetName(), types.ApplyPatchType, body, o)
		verb := "configured"
		if c.create {
			verb = "created"
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", objName(c.art.Object), err))
			continue
		}
		fmt.Fprintf(s.ErrOut, "%s %s%s\n", objName(c.art.Object), verb, suffix)
	}
	if len(failed) > 0 {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("the API server refused %d of %d change(s):\n  %s", len(failed), len(changes), strings.Join(failed, "\n  "))}
	}
	return proofExit(g)
}

func proofExit(g *cligen.Generated) error {
	if !g.Proof.OK() {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
}

// plan works out what applying one artifact changes; nil means nothing.
func plan(ctx context.Context, a *gen.Artifact, dyn dynamic.Interface, mapper meta.RESTMapper) (*change, error) {
	obj := a.Object
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s (is its CRD installed?): %v", gvk, err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	c := &change{art: a, body: obj, resource: ri}
	current, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.create = true
		current = nil
	case err != nil:
		return nil, err
	}
	desired := obj
	if a.Group == gen.GroupPatch {
		if current == nil {
			return nil, errors.New("the policy to patch is gone from the cluster")
		}
		// Send only what the patch changes: imdsguard owns spec.egress (and
		// spec.policyTypes when it had to pin them), nothing else.
		c.body = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(),
			"metadata": map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		}}
		spec := map[string]any{"egress": obj.Object["spec"].(map[string]any)["egress"]}
		if pt, ok := obj.Object["spec"].(map[string]any)["policyTypes"]; ok {
			if cur, _, _ := unstructured.NestedFieldNoCopy(current.Object, "spec", "policyTypes"); !reflect.DeepEqual(normalize(cur), normalize(pt)) {
				spec["policyTypes"] = pt
			}
		}
		c.body.Object["spec"] = spec
		c.force = true
		desired = current.DeepCopy()
		for k, v := range spec {
			desired.Object["spec"].(map[string]any)[k] = v
		}
	}
	before, after := "", render(desired)
	if current != nil {
		if a.Group != gen.GroupPatch {
			// Compare only the fields imdsguard sets.
			current = project(current, desired)
		}
		before = render(current)
	}
	if before == after {
		return nil, nil
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(before), B: difflib.SplitLines(after),
		FromFile: "cluster/" + objName(obj), ToFile: "imdsguard/" + objName(obj), Context: 3,
	})
	if err != nil {
		return nil, err
	}
	c.diff = diff
	return c, nil
}

// render is the YAML of an object without the fields the server owns.
func render(u *unstructured.Unstructured) string {
	c := u.DeepCopy()
	gen.StripServerFields(c)
	y, _ := yaml.Marshal(c.Object)
	return string(y)
}

// project keeps, of the live object, the fields the desired object sets, so
// that fields defaulted by the server or set by others do not show as a
// difference.
func project(live, desired *unstructured.Unstructured) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: projectMap(live.Object, desired.Object)}
}

func projectMap(live, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, w := range want {
		if l, ok := live[k]; ok {
			out[k] = projectValue(l, w)
		}
	}
	return out
}

// projectValue projects maps, and lists element by element when both have
// the same length (server defaults inside list elements).
func projectValue(l, w any) any {
	switch wv := w.(type) {
	case map[string]any:
		if lm, ok := l.(map[string]any); ok {
			return projectMap(lm, wv)
		}
	case []any:
		if ll, ok := l.([]any); ok && len(ll) == len(wv) {
			out := make([]any, len(ll))
			for i := range ll {
				out[i] = projectValue(ll[i], wv[i])
			}
			return out
		}
	}
	return l
}

// normalize makes []string and []any compare equal.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

func objName(u *unstructured.Unstructured) string {
	n := strings.ToLower(u.GetKind()) + "/" + u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		n = ns + "/" + n
	}
	return n
}
