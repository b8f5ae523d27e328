package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/imdsguard/imdsguard/internal/scan"
)

// InputFlags are the flags that choose what to read and which endpoints to
// answer for.
type InputFlags struct {
	Cloud        string
	Endpoints    []string
	Config       string
	NodeProfiles []string
	KeepGoing    bool
	// Quiet turns off progress on a terminal.
	Quiet            bool
	MaxDocumentBytes int64
	// Kube chooses a live cluster instead of files.
	Kube KubeFlags
	fs   *pflag.FlagSet
}

// Add registers the flags.
func (f *InputFlags) Add(fs *pflag.FlagSet) {
	fs.StringVar(&f.Cloud, "cloud", "auto", "metadata endpoints to check: aws, gcp, azure, alibaba, oracle, openstack, digitalocean, all, or auto (from Node objects, else all)")
	fs.StringArrayVar(&f.Endpoints, "endpoint", nil, "extra metadata endpoint [NAME=]ADDR:PORT[/PROTO] (repeatable)")
	fs.StringVar(&f.Config, "config", "", "configuration file (kind ScanConfig) with suppressions and node profiles")
	fs.StringArrayVar(&f.NodeProfiles, "node-profile", nil, "node metadata settings of every node of a cloud, when no input states them: CLOUD:KEY=VALUE,... e.g. aws:httpTokens=required,httpPutResponseHopLimit=1 (repeatable)")
	fs.BoolVarP(&f.Quiet, "quiet", "q", false, "no progress line on stderr (it shows only on a terminal, for live scans that take more than a second)")
	fs.BoolVar(&f.KeepGoing, "keep-going", false, "report input errors and go on; the verdicts they affect are Unknown (exit code stays 2)")
	fs.Int64Var(&f.MaxDocumentBytes, "max-document-bytes", 32<<20, "largest YAML document accepted")
	f.Kube.Add(fs)
	f.fs = fs
}

// Scan runs the scan pipeline over paths, or over one live cluster. It
// prints input errors to errOut; unless --keep-going is set it then stops
// with exit code 2.
func (f *InputFlags) Scan(ctx context.Context, s Streams, paths []string, version string) (*scan.Result, error) {
	res, err := f.ScanAll(ctx, s, paths, version)
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, &ExitError{Code: ExitUsage, Err: errors.New("this command takes one cluster: use --context")}
	}
	return res[0].Result, nil
}

// Scanned is the result of scanning files, or one cluster.
type Scanned struct {
	// Cluster is the kubeconfig context, empty for files.
	Cluster string
	*scan.Result
}

// ScanAll is Scan for commands that report several clusters: one result per
// cluster, in the order of --contexts (sorted for --all-contexts).
func (f *InputFlags) ScanAll(ctx context.Context, s Streams, paths []string, version string) ([]Scanned, error) {
	o := f.options(s, paths, version)
	if f.fs == nil || !f.Kube.live(f.fs) {
		if len(paths) == 0 {
			return nil, &ExitError{Code: ExitUsage, Err: errors.New("no input: give files, directories or - for stdin, or a cluster with -A, -n, --context or --kubeconfig")}
		}
		res, err := f.run(ctx, s, o)
		if err != nil {
			return nil, err
		}
		return []Scanned{{Result: res}}, nil
	}
	if len(paths) > 0 {
		return nil, &ExitError{Code: ExitUsage, Err: errors.New("give files or a cluster, not both")}
	}
	return f.scanClusters(ctx, s, o)
}

// Streamable reports whether a scan with these flags can be evaluated one
// group of namespaces at a time (scan.Plan): files, not a live cluster.
func (f *InputFlags) Streamable() bool { return !f.Live() }

// Prepare runs the first pass of a streamed scan of files and prints its
// input errors; unless --keep-going is set they stop the command. Warnings
// are known only once the plan is rendered: print them with PrintWarnings.
func (f *InputFlags) Prepare(ctx context.Context, s Streams, paths []string, version string) (*scan.Plan, error) {
	if len(paths) == 0 {
		return nil, &ExitError{Code: ExitUsage, Err: errors.New("no input: give files, directories or - for stdin, or a cluster with -A, -n, --context or --kubeconfig")}
	}
	p, err := scan.Prepare(ctx, f.options(s, paths, version))
	var ue *scan.UsageError
	if errors.As(err, &ue) {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return nil, err
	}
	if len(p.InputErrors) > 0 {
		printInputErrors(s.ErrOut, p.Result)
		if !f.KeepGoing {
			_ = p.Close()
			return nil, &ExitError{Code: ExitInput, Err: fmt.Errorf("%d input error(s); no verdicts reported (use --keep-going to report the rest as Unknown)", len(p.InputErrors))}
		}
	}
	return p, nil
}

// PrintWarnings prints a scan's warnings.
func PrintWarnings(s Streams, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(s.ErrOut, "warning:", w)
	}
}

func (f *InputFlags) options(s Streams, paths []string, version string) scan.Options {
	return scan.Options{Paths: paths, Stdin: s.In, Cloud: f.Cloud, ExtraEndpoints: f.Endpoints,
		ConfigFile: f.Config, NodeProfiles: f.NodeProfiles, MaxDocumentBytes: f.MaxDocumentBytes, Version: version}
}

// run runs one scan and reports its warnings and input errors.
func (f *InputFlags) run(ctx context.Context, s Streams, o scan.Options) (*scan.Result, error) {
	res, err := scan.Run(ctx, o)
	var ue *scan.UsageError
	if errors.As(err, &ue) {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return nil, err
	}
	return res, f.report(s, res)
}

// report prints a scan's warnings and input errors; unless --keep-going is
// set, input errors stop the command.
func (f *InputFlags) report(s Streams, res *scan.Result) error {
	PrintWarnings(s, res.Warnings)
	if len(res.InputErrors) > 0 {
		printInputErrors(s.ErrOut, res)
		if !f.KeepGoing {
			return &ExitError{Code: ExitInput, Err: fmt.Errorf("%d input error(s); no verdicts reported (use --keep-going to report the rest as Unknown)", len(res.InputErrors))}
		}
	}
	return nil
}

func printInputErrors(w io.Writer, res *scan.Result) {
	for _, e := range res.InputErrors {
		fmt.Fprintln(w, "error:", e.Error())
	}
}

// Live reports whether the flags ask for a live cluster rather than files.
func (f *InputFlags) Live() bool { return f.fs != nil && f.Kube.live(f.fs) }

// Cluster returns the one cluster the flags name, for commands that act on
// it after scanning.
func (f *InputFlags) Cluster() (Cluster, error) {
	cs, err := f.Kube.clusters()
	if err != nil {
		return Cluster{}, &ExitError{Code: ExitUsage, Err: err}
	}
	if len(cs) != 1 {
		return Cluster{}, &ExitError{Code: ExitUsage, Err: errors.New("this command takes one cluster: use --context")}
	}
	return cs[0], nil
}
