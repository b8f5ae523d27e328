package probe

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/config"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/probe/pods"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/version"
)

// podFlags choose where probe pods run and how.
type podFlags struct {
	input       cli.InputFlags
	as          []string
	image       string
	parallel    int
	deadline    time.Duration
	podDeadline time.Duration
	nodes       string
	nodeNS      string
}

func (f *podFlags) add(fs *pflag.FlagSet) {
	f.input.Add(fs)
	// The scan's cluster flags, as the probe reads them.
	fs.Lookup("namespace").Usage = "run a probe pod in this namespace (the comparison scan reads only it)"
	fs.Lookup("all-namespaces").Usage = "run a probe pod in every namespace"
	for _, n := range []string{"contexts", "all-contexts"} {
		_ = fs.MarkHidden(n) // one cluster at a time
	}
	fs.StringArrayVar(&f.as, "as", nil, "probe as a workload: NAMESPACE/KIND/NAME; the probe pod wears its labels, ServiceAccount and hostNetwork setting (repeatable)")
	fs.StringVar(&f.image, "image", pods.DefaultImage(version.Get().Version), "the image of the probe pods; its entrypoint must be imdsguard (the project's image), given the arguments: probe agent ...")
	fs.IntVar(&f.parallel, "parallel", 4, "the most probe pods at once")
	fs.DurationVar(&f.deadline, "deadline", 5*time.Minute, "the longest the whole probe may take; unfinished probes are reported and their pods deleted")
	fs.DurationVar(&f.podDeadline, "pod-deadline", 2*time.Minute, "the longest one probe pod may take, from creation to report (also its activeDeadlineSeconds)")
	fs.StringVar(&f.nodes, "node-selector", "", "node mode: also probe from a hostNetwork pod on every node this label selector selects (\"\" with the flag given: every node)")
	fs.StringVar(&f.nodeNS, "node-namespace", "default", "node mode: the namespace of the node probes; its Pod Security level must admit hostNetwork")
}

// set reports whether any flag that only a cluster probe reads was given.
func (f *podFlags) set(fs *pflag.FlagSet) bool {
	for _, n := range []string{"as", "image", "parallel", "deadline", "pod-deadline", "node-selector", "node-namespace", "kubeconfig", "context", "contexts",
		"all-contexts", "namespace", "all-namespaces", "cloud", "endpoint", "config", "node-profile"} {
		if fl := fs.Lookup(n); fl != nil && fl.Changed {
			return true
		}
	}
	return false
}

// probePodName names the probe of a namespace, in reports and in the
// static scan that it is compared with.
const probePodName = "imdsguard-probe"

func namespaceProbe(ns string) model.ObjectRef {
	return model.ObjectRef{APIVersion: "v1", Kind: "ProbePod", Namespace: ns, Name: probePodName}
}

func runPods(ctx context.Context, s cli.Streams, f *flags, nodeMode bool, out *cli.Output) error {
	pf := &f.pods
	k := pf.input.Kube
	if k.Namespace == "" && !k.AllNamespaces && len(pf.as) == 0 && !nodeMode {
		return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("say where to probe: --local, -n NAMESPACE, -A, --as NAMESPACE/KIND/NAME or --node-selector")}
	}
	if pf.parallel < 1 || pf.deadline <= 0 || pf.podDeadline <= 0 {
		return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("--parallel, --deadline and --pod-deadline must be positive")}
	}
	if _, err := f.agent.options(dialer{}); err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	as, err := parseAs(pf.as)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	c, err := pf.input.Cluster()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("kubeconfig: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, pf.deadline)
	defer cancel()
	nss, err := probeNamespaces(ctx, client, k)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitInput, Err: err}
	}
	static, err := pf.input.ScanCluster(ctx, s, version.Get().Version, func(inv *model.Inventory) {
		for _, ns := range nss {
			inv.Workloads = append(inv.Workloads, &model.Workload{Ref: namespaceProbe(ns), Source: model.Source{Cluster: c.Name},
				Templates: []model.PodTemplate{{Labels: pods.NamespaceLabels(), ServiceAccount: "default", Source: model.Source{Cluster: c.Name}}}})
		}
	})
	if err != nil {
		return err
	}
	subjects, err := subjectsFor(static.Inventory, as, nss, c.Name)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	if nodeMode {
		nodes, err := nodeSubjects(ctx, client, pf.nodes, pf.nodeNS, c.Name)
		if err != nil {
			return err
		}
		subjects = append(subjects, nodes...)
	}
	var done atomic.Int64
	progress := cli.StartProgress(s.ErrOut, !pf.input.Quiet && cli.IsTerminal(s.ErrOut), func(d time.Duration) string {
		return fmt.Sprintf("probing cluster %s: %d of %d probe pods done (%.0f s)", c.Name, done.Load(), len(subjects), d.Seconds())
	})
	probes := pods.Run(ctx, client, subjects, pods.Options{Image: pf.image, AgentArgs: f.agent.args(),
		Parallel: pf.parallel, PodDeadline: pf.podDeadline, Done: &done})
	progress.Stop()
	doc := probe.Document(probes, probe.StaticFrom(static.Document()), version.Get().Version)
	var cfg []rules.ConfigSuppression
	if pf.input.Config != "" {
		c, err := config.Load(pf.input.Config) // read and checked by the scan already
		if err != nil {
			return &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
		cfg = c.Suppressions
	}
	probe.Suppress(doc, static.Inventory, cfg)
	return finish(s, out, doc)
}

// probeNamespaces lists the namespaces that get a namespace probe: -n's,
// or every namespace for -A; none when only --as was given.
func probeNamespaces(ctx context.Context, client kubernetes.Interface, k cli.KubeFlags) ([]string, error) {
	switch {
	case k.Namespace != "":
		return []string{k.Namespace}, nil
	case !k.AllNamespaces:
		return nil, nil
	}
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	sort.Strings(out)
	return out, nil
}

func parseAs(values []string) ([]model.ObjectRef, error) {
	out := make([]model.ObjectRef, 0, len(values))
	for _, v := range values {
		parts := strings.Split(v, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("--as %q: want NAMESPACE/KIND/NAME, e.g. payments/Deployment/api", v)
		}
		out = append(out, model.ObjectRef{Namespace: parts[0], Kind: parts[1], Name: parts[2]})
	}
	return out, nil
}

// subjectsFor makes one subject per namespace probe and per --as workload,
// the workload's pod shape read by the static scan.
func subjectsFor(inv *model.Inventory, as []model.ObjectRef, nss []string, cluster string) ([]pods.Subject, error) {
	var out []pods.Subject
	for _, ns := range nss {
		out = append(out, pods.Subject{Object: namespaceProbe(ns), Source: model.Source{Cluster: cluster}, Namespace: ns})
	}
	for _, ref := range as {
		w := findWorkload(inv, ref)
		if w == nil {
			return nil, fmt.Errorf("--as %s/%s/%s: no such workload in the cluster (with -n, only that namespace is read)", ref.Namespace, ref.Kind, ref.Name)
		}
		if len(w.Templates) == 0 {
			return nil, fmt.Errorf("--as %s: it has no pod template to wear", w.Ref)
		}
		t := w.Templates[0]
		out = append(out, pods.Subject{Object: w.Ref, Source: w.Source, Namespace: w.Ref.Namespace,
			Labels: t.Labels, ServiceAccount: t.ServiceAccount, HostNetwork: t.HostNetwork})
	}
	return out, nil
}

func findWorkload(inv *model.Inventory, ref model.ObjectRef) *model.Workload {
	for _, w := range inv.Workloads {
		if w.Ref.Namespace == ref.Namespace && w.Ref.Name == ref.Name && strings.EqualFold(w.Ref.Kind, ref.Kind) {
			return w
		}
	}
	return nil
}

// nodeSubjects makes one hostNetwork subject per node the selector
// selects. A node probe has no static verdict to be compared with: what a
// hostNetwork pod reaches is decided by the node, not by policy.
func nodeSubjects(ctx context.Context, client kubernetes.Interface, selector, ns, cluster string) ([]pods.Subject, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--node-selector: %w", err)}
	}
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("listing nodes: %w", err)}
	}
	if len(list.Items) == 0 {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--node-selector %q selects no node", selector)}
	}
	out := make([]pods.Subject, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, pods.Subject{Object: model.ObjectRef{APIVersion: "v1", Kind: "Node", Name: n.Name}, Source: model.Source{Cluster: cluster},
			Namespace: ns, HostNetwork: true, NodeName: n.Name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeName < out[j].NodeName })
	return out, nil
}
