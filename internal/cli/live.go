package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/source/kube"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// KubeFlags choose a live cluster to scan, the way kubectl does. Any of
// them turns the scan from files to the cluster.
type KubeFlags struct {
	Kubeconfig     string
	Context        string
	Contexts       []string
	AllContexts    bool
	Namespace      string
	AllNamespaces  bool
	RequestTimeout time.Duration
}

// Add registers the flags.
func (f *KubeFlags) Add(fs *pflag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "scan a live cluster: path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config, else the in-cluster config)")
	fs.StringVar(&f.Context, "context", "", "scan a live cluster: the kubeconfig context to use (default: the current context)")
	fs.StringSliceVar(&f.Contexts, "contexts", nil, "scan several clusters concurrently: comma-separated kubeconfig contexts")
	fs.BoolVar(&f.AllContexts, "all-contexts", false, "scan every context of the kubeconfig concurrently")
	fs.StringVarP(&f.Namespace, "namespace", "n", "", "scan a live cluster: only this namespace")
	fs.BoolVarP(&f.AllNamespaces, "all-namespaces", "A", false, "scan a live cluster: every namespace (the default for a live scan)")
	fs.DurationVar(&f.RequestTimeout, "request-timeout", kube.DefaultRequestTimeout, "live scan: the longest wait for one API request")
}

// live reports whether any flag asks for a live scan.
func (f *KubeFlags) live(fs *pflag.FlagSet) bool {
	for _, n := range []string{"kubeconfig", "context", "contexts", "all-contexts", "namespace", "all-namespaces"} {
		if fl := fs.Lookup(n); fl != nil && fl.Changed {
			return true
		}
	}
	return false
}

// Cluster is one cluster to scan.
type Cluster struct {
	Name   string
	Config *rest.Config
	Opts   kube.Options
}

// inCluster names the cluster when the in-cluster config is used.
const inCluster = "in-cluster"

// clusters resolves the flags to the clusters to scan.
func (f *KubeFlags) clusters() ([]Cluster, error) {
	if f.Namespace != "" && f.AllNamespaces {
		return nil, errors.New("-n/--namespace and -A/--all-namespaces exclude each other")
	}
	n := 0
	for _, set := range []bool{f.Context != "", len(f.Contexts) > 0, f.AllContexts} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("give one of --context, --contexts and --all-contexts")
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.Kubeconfig
	names := f.Contexts
	if f.Context != "" {
		names = []string{f.Context}
	}
	if f.AllContexts {
		raw, err := rules.Load()
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig: %w", err)
		}
		for name := range raw.Contexts {
			names = append(names, name)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, errors.New("--all-contexts: the kubeconfig has no contexts")
		}
	}
	if len(names) == 0 {
		names = []string{""} // the current context, or the in-cluster config
	}
	out := make([]Cluster, 0, len(names))
	for _, name := range names {
		c, err := f.cluster(rules, name)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// cluster builds the config of one context; "" is the current context.
func (f *KubeFlags) cluster(rules *clientcmd.ClientConfigLoadingRules, name string) (Cluster, error) {
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return Cluster{}, errors.New("no kubeconfig found and not running in a cluster (set --kubeconfig or KUBECONFIG)")
		}
		return Cluster{}, fmt.Errorf("kubeconfig: %w", err)
	}
	if name == "" {
		raw, err := cc.RawConfig()
		switch {
		case err == nil && raw.CurrentContext != "":
			name = raw.CurrentContext
		default:
			name = inCluster
		}
	}
	return Cluster{Name: name, Config: cfg,
		Opts: kube.Options{Cluster: name, Namespace: f.Namespace, RequestTimeout: f.RequestTimeout}}, nil
}

// scanClusters scans the clusters the flags name, concurrently. A cluster
// that cannot be reached is a one-line error and exit code 2.
func (f *InputFlags) scanClusters(ctx context.Context, s Streams, o scan.Options) ([]Scanned, error) {
	clusters, err := f.Kube.clusters()
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	results := make([]*scan.Result, len(clusters))
	errs := make([]error, len(clusters))
	what := "cluster " + clusters[0].Name
	if len(clusters) > 1 {
		what = fmt.Sprintf("%d clusters", len(clusters))
	}
	objects, progress := f.readProgress(s, what)
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() {
			co := o
			opts := c.Opts
			opts.Objects = objects
			co.Live = kube.Loader(c.Config, opts)
			results[i], errs[i] = scan.Run(ctx, co)
		})
	}
	wg.Wait()
	progress.Stop()
	var failed []error
	for _, err := range errs {
		var ce *kube.ConnectError
		switch {
		case errors.As(err, &ce):
			failed = append(failed, err)
		case err != nil:
			return nil, liveError(err)
		}
	}
	if len(failed) > 0 {
		return nil, &ExitError{Code: ExitInput, Err: errors.Join(failed...)}
	}
	out := make([]Scanned, len(results))
	for i, r := range results {
		if err := f.report(s, r); err != nil {
			return nil, err
		}
		out[i] = Scanned{Cluster: clusters[i].Name, Result: r}
	}
	return out, nil
}

// liveError turns a live scan's error into the command's: a cluster that
// cannot be reached is an input error, a bad option a usage error.
func liveError(err error) error {
	var ce *kube.ConnectError
	var ue *scan.UsageError
	switch {
	case errors.As(err, &ce):
		return &ExitError{Code: ExitInput, Err: err}
	case errors.As(err, &ue):
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return err
}

// ScanCluster scans the one cluster the flags name, whether or not a
// cluster flag was given. extend, when set, adds to what was read before
// the evaluation: objects the caller is about to create, say.
func (f *InputFlags) ScanCluster(ctx context.Context, s Streams, version string, extend func(*model.Inventory)) (*scan.Result, error) {
	c, err := f.Cluster()
	if err != nil {
		return nil, err
	}
	objects, progress := f.readProgress(s, "cluster "+c.Name)
	opts := c.Opts
	opts.Objects = objects
	load := kube.Loader(c.Config, opts)
	o := scan.Options{Cloud: f.Cloud, ExtraEndpoints: f.Endpoints, ConfigFile: f.Config, NodeProfiles: f.NodeProfiles, Version: version,
		Live: func(ctx context.Context) (*model.Inventory, []*manifest.InputError, error) {
			inv, errs, err := load(ctx)
			if err == nil && extend != nil {
				extend(inv)
			}
			return inv, errs, err
		}}
	res, err := scan.Run(ctx, o)
	progress.Stop()
	if err != nil {
		return nil, liveError(err)
	}
	return res, f.report(s, res)
}

// readProgress starts the progress line of reading clusters: the counter to
// hand the loaders, and the line to stop when they are done.
func (f *InputFlags) readProgress(s Streams, what string) (*atomic.Int64, *Progress) {
	objects := new(atomic.Int64)
	return objects, StartProgress(s.ErrOut, !f.Quiet && IsTerminal(s.ErrOut), func(d time.Duration) string {
		return fmt.Sprintf("scanning %s: %d objects read (%.0f s)", what, objects.Load(), d.Seconds())
	})
}
