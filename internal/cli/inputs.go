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
	Cloud            string
	Endpoints        []string
	Config           string
	KeepGoing        bool
	MaxDocumentBytes int64
}

// Add registers the flags.
func (f *InputFlags) Add(fs *pflag.FlagSet) {
	fs.StringVar(&f.Cloud, "cloud", "auto", "metadata endpoints to check: aws, gcp, azure, alibaba, oracle, openstack, digitalocean, all, or auto (from Node objects, else all)")
	fs.StringArrayVar(&f.Endpoints, "endpoint", nil, "extra metadata endpoint [NAME=]ADDR:PORT[/PROTO] (repeatable)")
	fs.StringVar(&f.Config, "config", "", "configuration file (kind ScanConfig) with suppressions")
	fs.BoolVar(&f.KeepGoing, "keep-going", false, "report input errors and go on; the verdicts they affect are Unknown (exit code stays 2)")
	fs.Int64Var(&f.MaxDocumentBytes, "max-document-bytes", 32<<20, "largest YAML document accepted")
}

// Scan runs the scan pipeline over paths. It prints input errors to errOut;
// unless --keep-going is set it then stops with exit code 2.
func (f *InputFlags) Scan(ctx context.Context, s Streams, paths []string, version string) (*scan.Result, error) {
	if len(paths) == 0 {
		return nil, &ExitError{Code: ExitUsage, Err: errors.New("no input: give files, directories or - for stdin")}
	}
	res, err := scan.Run(ctx, scan.Options{Paths: paths, Stdin: s.In, Cloud: f.Cloud, ExtraEndpoints: f.Endpoints,
		ConfigFile: f.Config, MaxDocumentBytes: f.MaxDocumentBytes, Version: version})
	var ue *scan.UsageError
	if errors.As(err, &ue) {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(s.ErrOut, "warning:", w)
	}
	if len(res.InputErrors) > 0 {
		printInputErrors(s.ErrOut, res)
		if !f.KeepGoing {
			return nil, &ExitError{Code: ExitInput, Err: fmt.Errorf("%d input error(s); no verdicts reported (use --keep-going to report the rest as Unknown)", len(res.InputErrors))}
		}
	}
	return res, nil
}

func printInputErrors(w io.Writer, res *scan.Result) {
	for _, e := range res.InputErrors {
		fmt.Fprintln(w, "error:", e.Error())
	}
}
