// Package controller is the `imdsguard controller` command: it runs the
// in-cluster controller (and, when enabled, its admission webhook) until
// the process is told to stop.
package controller

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/imdsguard/imdsguard/internal/cli"
	ctl "github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/protection"
)

type flags struct {
	kubeconfig, context string
	mode                string
	clouds              []string
	extra               []string
	exempt              []string
	namespace           string
	optOut              string
	reasonAnnotation    string
	policyName          string
	defaultDeny         bool
	metricsAddr         string
	probeAddr           string
	leaderElect         bool
	leaderElectionNS    string
	leaderElectionID    string
	concurrency         int
	logFormat, logLevel string
	clusterPolicy       string
	webhook             webhookFlags
}

// NewCommand returns the controller command.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "controller [flags]",
		Short: "Run the in-cluster controller that keeps every namespace protected",
		Long: "Runs until stopped, normally as a leader-elected Deployment in the cluster. " +
			"Every namespace that is not exempt keeps the protection NetworkPolicy that `imdsguard generate` makes for it; " +
			"a deleted or edited one is restored, with an Event. A namespace opts out with the label " +
			"imdsguard.io/metadata-access=allow and the annotation imdsguard.io/metadata-access-reason; without the reason " +
			"the opt-out is refused. Policies that re-open metadata are reported (Events, metrics), never edited.\n\n" +
			"With --webhook-port the same process serves a validating admission webhook that rejects hostNetwork pods " +
			"and pod templates, and policies that re-open metadata, in guarded namespaces. " +
			"--mode audit reports everything and changes nothing. See docs/controller.md.",
		Example: "  imdsguard controller --mode audit\n" +
			"  imdsguard controller --cloud aws --namespace imdsguard-system --webhook-port 9443",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd, s, f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: the in-cluster config, else $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.StringVar(&f.mode, "mode", string(protection.Enforce), "enforce (keep policies, reject at admission) or audit (report only, change nothing)")
	fs.StringSliceVar(&f.clouds, "cloud", []string{"all"}, "clouds whose metadata endpoints to close: aws, gcp, azure, alibaba, oracle, openstack, digitalocean, or all")
	fs.StringArrayVar(&f.extra, "endpoint", nil, "another metadata endpoint to close, ADDR[:PORT][/PROTO] (repeatable)")
	fs.StringSliceVar(&f.exempt, "exempt-namespace", []string{"kube-system"}, "namespaces left alone (the controller's own namespace is always added)")
	fs.StringVar(&f.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "the controller's own namespace (default $POD_NAMESPACE): exempt, and home of the leader Lease and the certificate Secret")
	fs.StringVar(&f.optOut, "opt-out-label", generate.DefaultExemptLabel+"="+generate.DefaultExemptValue, "the namespace label KEY=VALUE that opts a namespace out")
	fs.StringVar(&f.reasonAnnotation, "reason-annotation", protection.DefaultReasonAnnotation, "the namespace annotation that must explain an opt-out")
	fs.StringVar(&f.policyName, "policy-name", generate.DefaultName, "the name of the managed NetworkPolicies")
	fs.BoolVar(&f.defaultDeny, "default-deny", false, "managed policies allow only DNS and the node-local services, instead of everything but metadata")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8080", "address of /metrics; 0 turns it off")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; empty turns them off")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "elect one reconciling replica through a Lease")
	fs.StringVar(&f.leaderElectionNS, "leader-election-namespace", "", "namespace of the Lease (default: --namespace)")
	fs.StringVar(&f.leaderElectionID, "leader-election-id", ctl.DefaultLeaderElectionID, "name of the Lease")
	fs.IntVar(&f.concurrency, "concurrency", 4, "namespaces reconciled at once")
	fs.StringVar(&f.clusterPolicy, "cluster-policy", ctl.ClusterPolicyNone, "none (a NetworkPolicy per namespace), anp (one AdminNetworkPolicy instead; the CNI must enforce it), or auto (anp when the API serves AdminNetworkPolicies at start)")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.webhook.add(cmd)
	return cmd
}

func run(cmd *cobra.Command, s cli.Streams, f *flags) error {
	opts, err := f.options()
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	logger, err := cli.NewLogger(s, f.logFormat, f.logLevel)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	opts.Logger = logger
	opts.Config, err = cli.RESTConfig(f.kubeconfig, f.context)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	mgr, _, err := ctl.New(opts)
	if err != nil {
		return err
	}
	logger.Info("starting", "mode", opts.Policy.Mode, "exempt", opts.Policy.ExemptNamespaces,
		"deny", fmt.Sprint(opts.Policy.Generate.Deny), "webhook", opts.Webhook != nil)
	if err := mgr.Start(cmd.Context()); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	return nil
}

// options turns the flags into the controller's options.
func (f *flags) options() (ctl.Options, error) {
	mode, err := protection.ParseMode(f.mode)
	if err != nil {
		return ctl.Options{}, err
	}
	clouds, err := parseClouds(f.clouds)
	if err != nil {
		return ctl.Options{}, err
	}
	var extra []endpoints.Endpoint
	for _, e := range f.extra {
		ep, err := endpoints.ParseExtra(e)
		if err != nil {
			return ctl.Options{}, fmt.Errorf("--endpoint: %w", err)
		}
		extra = append(extra, ep)
	}
	exempt := append([]string(nil), f.exempt...)
	if f.namespace != "" && !slices.Contains(exempt, f.namespace) {
		exempt = append(exempt, f.namespace)
	}
	key, value, ok := strings.Cut(f.optOut, "=")
	if !ok || key == "" || value == "" {
		return ctl.Options{}, fmt.Errorf("--opt-out-label %q: want KEY=VALUE", f.optOut)
	}
	if f.leaderElect && f.namespace == "" && f.leaderElectionNS == "" {
		return ctl.Options{}, errors.New("--leader-elect needs --namespace (or $POD_NAMESPACE) or --leader-election-namespace")
	}
	p := protection.ForClouds(mode, clouds, extra, exempt)
	p.OptOutLabel, p.OptOutValue, p.ReasonAnnotation = key, value, f.reasonAnnotation
	p.Generate.Name, p.Generate.DefaultDeny = f.policyName, f.defaultDeny
	p.Generate.ExemptLabel, p.Generate.ExemptValue = key, value
	leNS := f.leaderElectionNS
	if leNS == "" {
		leNS = f.namespace
	}
	o := ctl.Options{
		Policy:                  p,
		MetricsAddr:             f.metricsAddr,
		ProbeAddr:               f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionNamespace: leNS,
		LeaderElectionID:        f.leaderElectionID,
		Concurrency:             f.concurrency,
		ClusterPolicy:           f.clusterPolicy,
	}
	switch f.clusterPolicy {
	case ctl.ClusterPolicyNone, ctl.ClusterPolicyANP, ctl.ClusterPolicyAuto:
	default:
		return ctl.Options{}, fmt.Errorf("--cluster-policy %q: want none, anp or auto", f.clusterPolicy)
	}
	if o.Webhook, err = f.webhook.options(f.namespace); err != nil {
		return ctl.Options{}, err
	}
	return o, nil
}

// parseClouds checks --cloud values; "all" (or nothing) means every cloud.
func parseClouds(values []string) ([]endpoints.Cloud, error) {
	var out []endpoints.Cloud
	for _, v := range values {
		c, err := endpoints.ParseCloud(v)
		switch {
		case err != nil:
			return nil, fmt.Errorf("--cloud: %w", err)
		case c == "auto":
			return nil, errors.New("--cloud auto is not supported by the controller: name the clouds, or all")
		case c == "all":
			return nil, nil
		}
		out = append(out, c)
	}
	return out, nil
}
