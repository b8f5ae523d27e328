// Package proxy is the `imdsguard proxy` command: the node metadata proxy,
// normally a hostNetwork DaemonSet, with its nftables redirection.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli/command"
	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/pods"
	"github.com/imdsguard/imdsguard/internal/proxy/redirect"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
)

// On-exit behaviours.
const (
	onExitKeepDrop = "keep-drop"
	onExitRemove   = "remove"
)

type flags struct {
	cloud         string
	config        string
	requireV2     bool
	upstream      string
	listen        string
	metricsAddr   string
	redirect      bool
	podCIDRs      []string
	podInterfaces []string
	block         []string
	table         string
	onExit        string
	logFormat     string
	logLevel      string
	nodeName      string
	recordEvents  bool
	kubeconfig    string
	context       string
	maxProcs      int
	maxPerSource  int
	ioURing       bool
}

// redirector is what the command needs of package redirect.
type redirector interface {
	Drop() error
	Redirect() error
	Remove() error
	Dropped() (map[netip.AddrPort]uint64, error)
}

// deps are the parts a test replaces.
type deps struct {
	newRedirector func(redirect.Config) (redirector, error)
	// ready is called once the proxy serves behind the redirect.
	ready func(addr net.Addr)
	// client connects to the cluster.
	client func(*flags) (*pods.Client, error)
	// interfaces lists the host's network interfaces.
	interfaces func() ([]string, error)
}

func realDeps() deps {
	return deps{
		newRedirector: func(c redirect.Config) (redirector, error) { return redirect.New(c) },
		ready:         func(net.Addr) {},
		interfaces:    redirect.HostInterfaces,
		client: func(f *flags) (*pods.Client, error) {
			rc, err := command.RESTConfig(f.kubeconfig, f.context)
			if err != nil {
				return nil, err
			}
			return pods.NewClient(rc)
		},
	}
}

// NewCommand returns the proxy command.
func NewCommand(s command.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "proxy [flags]",
		Short: "Run the node metadata proxy: serve safe metadata paths to pods, refuse credentials",
		Long: "Runs until stopped, normally as a hostNetwork DaemonSet. nftables rules send pod traffic for the " +
			"metadata service (169.254.169.254:80 and [fd00:ec2::254]:80) to the proxy, which serves a short list " +
			"of safe paths, refuses credentials, user-data and anything unknown, and logs and counts each refusal.\n\n" +
			"The start fails closed: pod traffic for the metadata service is dropped first, the proxy listens, and " +
			"only then a redirect replaces the drop. On exit the drop stays (--on-exit keep-drop) unless told to " +
			"remove the rules. See docs/proxy.md.",
		Example: "  imdsguard proxy --cloud aws --require-imdsv2 --pod-cidr 10.244.0.0/16\n" +
			"  imdsguard proxy --config /etc/imdsguard/proxy.yaml --pod-interface 'cali*'\n" +
			"  imdsguard proxy --cloud gcp --node-name \"$NODE_NAME\"   # pod CIDRs from the Node, pods watched",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.maxProcs < 0 {
				return usage("--gomaxprocs %d: want 0 (the Go runtime's choice) or more", f.maxProcs)
			}
			// An explicit $GOMAXPROCS wins over the flag's default.
			if f.maxProcs > 0 && (cmd.Flags().Changed("gomaxprocs") || os.Getenv("GOMAXPROCS") == "") {
				runtime.GOMAXPROCS(f.maxProcs)
			}
			return run(cmd.Context(), s, f, cmd.Flags().Changed("cloud"), realDeps())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.cloud, "cloud", string(proxy.FlavourAuto), "the metadata service's flavour: aws, gcp, azure, or auto (by path)")
	fs.StringVar(&f.config, "config", "", "a ProxyConfig file: extra allowed paths, profiles pods may select (see docs/proxy.md)")
	fs.BoolVar(&f.requireV2, "require-imdsv2", false, "refuse AWS reads without an IMDSv2 session token")
	fs.BoolVar(&f.recordEvents, "record-events", false, "record a Warning Event on the pod behind a refused request, at most one per pod and rule every 10 minutes (needs --node-name and create on events)")
	fs.StringVar(&f.upstream, "upstream", server.DefaultUpstream, "the metadata service to forward to")
	fs.StringVar(&f.listen, "listen", ":8989", "the proxy's address; redirected traffic arrives on its port")
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":9989", "address of /metrics and /readyz; 0 turns it off")
	fs.BoolVar(&f.redirect, "redirect", true, "program nftables to send pod metadata traffic to the proxy")
	fs.StringSliceVar(&f.podCIDRs, "pod-cidr", nil, "source ranges of pod traffic (repeatable)")
	fs.StringSliceVar(&f.podInterfaces, "pod-interface", nil, "interfaces pod traffic arrives on; NAME* is a prefix (repeatable)")
	fs.StringVar(&f.table, "nft-table", redirect.DefaultTable, "the nftables table (family inet) the proxy owns")
	fs.StringSliceVar(&f.block, "block", blockDefaults(), "metadata services the proxy does not serve, as ADDR:PORT: pods' traffic for them is dropped while the rules exist; none drops nothing (repeatable)")
	fs.StringVar(&f.onExit, "on-exit", onExitKeepDrop, "what the rules do after the proxy stops: keep-drop (pods get nothing) or remove")
	fs.StringVar(&f.nodeName, "node-name", os.Getenv("NODE_NAME"), "this node (default $NODE_NAME): its pods are watched to name the pod behind each request and apply profiles; its pod CIDRs are used when neither --pod-cidr nor --pod-interface is given. Empty: no cluster access, every request gets the default policy")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: the in-cluster config, else $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.IntVar(&f.maxProcs, "gomaxprocs", 1, "threads running Go code at once, and so the number of event loops serving requests; 0 leaves the Go runtime's choice (the CPU limit, at least 2); $GOMAXPROCS, when set, wins over the default. One loop served more than 30,000 requests a second on loopback (docs/performance.md)")
	fs.IntVar(&f.maxPerSource, "max-conns-per-source", server.DefaultMaxConnsPerSource, "open connections allowed from one address (a pod); more are closed at once, so that one pod cannot use up the proxy's memory")
	fs.BoolVar(&f.ioURing, "io-uring", true, "write through io_uring where the kernel and the seccomp profile allow it, many writes to one system call (write(2) otherwise, or with --io-uring=false)")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug (also logs requests allowed by a profile), info, warn or error")
	return cmd
}

func usage(format string, args ...any) error {
	return &command.ExitError{Code: command.ExitUsage, Err: fmt.Errorf(format, args...)}
}

func run(ctx context.Context, s command.Streams, f *flags, cloudSet bool, d deps) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	cfg := &proxy.Config{ProfileAnnotation: proxy.DefaultProfileAnnotation}
	if f.config != "" {
		var err error
		if cfg, err = proxy.LoadConfig(f.config); err != nil {
			return &command.ExitError{Code: command.ExitInput, Err: err}
		}
	}
	if cloudSet || f.config == "" {
		fl, err := proxy.ParseFlavour(f.cloud)
		if err != nil {
			return usage("%w", err)
		}
		cfg.Flavour = fl
	}
	cfg.RequireIMDSv2 = cfg.RequireIMDSv2 || f.requireV2
	policy, err := proxy.New(cfg.Options)
	if err != nil {
		return usage("%w", err)
	}
	up, err := url.Parse(f.upstream)
	if err != nil || up.Scheme != "http" || up.Host == "" {
		return usage("--upstream %q: want http://HOST[:PORT]", f.upstream)
	}
	if f.recordEvents && f.nodeName == "" {
		return usage("--record-events needs --node-name: Events are recorded on the pods of the node it names")
	}
	if f.maxPerSource < 1 {
		return usage("--max-conns-per-source %d: want 1 or more", f.maxPerSource)
	}
	if f.onExit != onExitKeepDrop && f.onExit != onExitRemove {
		return usage("--on-exit %q: want keep-drop or remove", f.onExit)
	}
	logger, err := command.NewLogger(s, f.logFormat, f.logLevel)
	if err != nil {
		return usage("%w", err)
	}
	var cs *pods.Client
	if f.nodeName != "" {
		if cs, err = d.client(f); err != nil {
			return err
		}
		if f.redirect && len(f.podCIDRs) == 0 && len(f.podInterfaces) == 0 {
			cidrs, err := pods.PodCIDRs(ctx, cs, f.nodeName)
			if err != nil && !errors.Is(err, pods.ErrNoPodCIDR) {
				return err
			}
			for _, c := range cidrs {
				f.podCIDRs = append(f.podCIDRs, c.String())
			}
			if len(cidrs) > 0 {
				logger.Info("pod CIDRs from the node", "node", f.nodeName, "cidrs", f.podCIDRs)
			}
		}
	}
	if f.redirect && len(f.podCIDRs) == 0 && len(f.podInterfaces) == 0 {
		if err := detectPodInterfaces(f, d, logger); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := server.NewMetrics(reg)
	if err != nil {
		return err
	}
	var red redirector
	if f.redirect {
		if red, err = newRedirector(f, d); err != nil {
			return err
		}
		reg.MustRegister(blockedCollector{red: red, log: logger})
		// 1. Pods get nothing until the proxy is there.
		if err := red.Drop(); err != nil {
			return err
		}
		logger.Info("pod metadata traffic dropped", "table", f.table)
	}
	podIndex := server.Pods(server.PodsFunc(func(netip.Addr) (server.Pod, bool) { return server.Pod{}, false }))
	var refusals []server.Option
	if cs != nil {
		// The informers stop with ctx: when the command returns.
		x, err := pods.Watch(ctx, cs, f.nodeName)
		if err != nil {
			return fmt.Errorf("watching the pods of node %q (pod metadata traffic stays dropped): %w", f.nodeName, err)
		}
		podIndex = x
		if f.recordEvents {
			ev := pods.NewEvents(cs, f.nodeName)
			go ev.Run(ctx, func(err error) { logger.Error(err, "recording an Event for a refused request") })
			refusals = append(refusals, server.WithRefusals(ev.Refused))
		}
	}
	// 2. The proxy listens.
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening on %s (pod metadata traffic stays dropped): %w", f.listen, err)
	}
	srv := server.NewServer(server.New(policy, append([]server.Option{server.WithUpstream(up), server.WithProfiles(cfg),
		server.WithPods(podIndex), server.WithLogger(logger), server.WithMetrics(metrics)}, refusals...)...))
	srv.MaxConnsPerSource = f.maxPerSource
	srv.PlainWrites = !f.ioURing
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// 3. The redirect replaces the drop.
	var ready atomic.Bool
	if red != nil {
		if err := red.Redirect(); err != nil {
			_ = srv.Close()
			return errors.Join(err, red.Drop())
		}
	}
	ready.Store(true)
	logger.Info("proxy ready", "listen", ln.Addr().String(), "upstream", up.String(), "cloud", string(cfg.Flavour),
		"requireIMDSv2", cfg.RequireIMDSv2, "redirect", f.redirect)
	d.ready(ln.Addr())
	stopMetrics := serveMetrics(f.metricsAddr, reg, &ready, logger)
	defer stopMetrics()

	serving := true
	select {
	case <-ctx.Done():
	case err = <-served:
		serving = false
	}
	ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if serving {
		// Serve may not have registered the listener when Shutdown ran; it
		// closes it when it returns, and only then is the port closed.
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	if red != nil {
		if f.onExit == onExitRemove {
			err = errors.Join(err, red.Remove())
		} else {
			err = errors.Join(err, red.Drop())
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	logger.Info("proxy stopped", "onExit", f.onExit)
	return err
}

// detectPodInterfaces fills --pod-interface from the host's interfaces
// whose names follow a known CNI's scheme.
func detectPodInterfaces(f *flags, d deps, logger logr.Logger) error {
	names, err := d.interfaces()
	if err != nil {
		return fmt.Errorf("listing the host's interfaces: %w", err)
	}
	f.podInterfaces = redirect.DetectPodInterfaces(names)
	if len(f.podInterfaces) == 0 {
		where := "no --node-name to read pod CIDRs from"
		if f.nodeName != "" {
			where = fmt.Sprintf("node %q has no pod CIDR", f.nodeName)
		}
		return usage("which traffic is a pod's: %s, and no interface is named like a known CNI's pods' (%s); give --pod-cidr or --pod-interface",
			where, strings.Join(redirect.KnownPodInterfacePrefixes(), ", "))
	}
	logger.Info("pod interfaces detected", "interfaces", f.podInterfaces)
	return nil
}

// blockDefaults are redirect.DefaultBlocked as flag values.
func blockDefaults() []string {
	var out []string
	for _, ap := range redirect.DefaultBlocked {
		out = append(out, ap.String())
	}
	return out
}

func newRedirector(f *flags, d deps) (redirector, error) {
	_, portStr, err := net.SplitHostPort(f.listen)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err != nil || perr != nil || port == 0 {
		return nil, usage("--listen %q: redirection needs a fixed port", f.listen)
	}
	c := redirect.Config{PodInterfaces: f.podInterfaces, ProxyPort: uint16(port), Table: f.table, Blocked: []netip.AddrPort{}}
	for _, s := range f.block {
		if s == "none" {
			continue
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil || ap.Port() == 0 {
			return nil, usage("--block %q: want ADDR:PORT ([ADDR]:PORT for IPv6) or none", s)
		}
		c.Blocked = append(c.Blocked, ap)
	}
	for _, s := range f.podCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, usage("--pod-cidr %q: %w", s, err)
		}
		c.PodCIDRs = append(c.PodCIDRs, p)
	}
	r, err := d.newRedirector(c)
	if err != nil {
		return nil, usage("%w", err)
	}
	return r, nil
}

// blockedDesc describes the packets dropped on their way to a blocked
// service: pods that try WireServer or Alibaba's metadata service show here
// (they get no refusal to log: their packets are dropped).
var blockedDesc = prometheus.NewDesc("imdsguard_proxy_blocked_packets_total",
	"Packets from pods to a metadata service the proxy does not serve (--block), dropped; the count restarts when the rules are replaced.",
	[]string{"destination"}, nil)

// blockedCollector reads the blocked services' rule counters at each
// scrape.
type blockedCollector struct {
	red redirector
	log logr.Logger
}

func (b blockedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- blockedDesc }

func (b blockedCollector) Collect(ch chan<- prometheus.Metric) {
	dropped, err := b.red.Dropped()
	if err != nil {
		b.log.Error(err, "reading the blocked services' counters")
		return
	}
	for t, n := range dropped {
		ch <- prometheus.MustNewConstMetric(blockedDesc, prometheus.CounterValue, float64(n), t.String())
	}
}

func serveMetrics(addr string, reg *prometheus.Registry, ready *atomic.Bool, logger logr.Logger) func() {
	if addr == "0" || addr == "" {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(err, "metrics server")
		}
	}()
	return func() { _ = srv.Close() }
}

// Run runs the proxy as a program of its own (cmd/imdsguard-proxy, which
// links this command alone): args are its flags, the result its exit code.
func Run(ctx context.Context, s command.Streams, args []string) int {
	cmd := NewCommand(s)
	cmd.Use = "imdsguard-proxy [flags]"
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &command.ExitError{Code: command.ExitUsage, Err: err}
	})
	cmd.SetIn(s.In)
	cmd.SetOut(s.Out)
	cmd.SetErr(s.ErrOut)
	cmd.SetArgs(args)
	return command.ExitCode(s, "imdsguard-proxy", cmd.ExecuteContext(ctx))
}
