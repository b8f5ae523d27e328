package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// Defaults for Options.
const (
	DefaultPageSize       = 500
	DefaultRequestTimeout = 10 * time.Second
)

// Options tune Load. Zero values mean the defaults.
type Options struct {
	// Cluster names the cluster (the kubeconfig context) in every Source.
	Cluster string
	// Namespace limits the scan to one namespace; empty means all.
	Namespace string
	// PageSize is the limit of each list request.
	PageSize int64
	// RequestTimeout bounds each request to the API server.
	RequestTimeout time.Duration
	// Objects, when set, counts the objects read so far, for progress.
	Objects *atomic.Int64
}

func (o Options) withDefaults() Options {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	return o
}

// Result is what Load read, in the manifest loader's shape.
type Result struct {
	Inventory *model.Inventory
	// Errors lists every input problem: lists the RBAC forbids, objects the
	// engine cannot use. Each has Source.Cluster set and names the object or
	// the resource concerned.
	Errors []*manifest.InputError
}

// Load reads a cluster. It returns an error only when it cannot talk to the
// API server at all (unreachable, TLS failure, rejected credentials): then
// nothing was read. Any other problem is in Result.Errors, and the scopes it
// affects are marked incomplete in the inventory.
func Load(ctx context.Context, cfg *rest.Config, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	c, err := newClients(cfg, opts)
	if err != nil {
		return nil, &ConnectError{Cluster: opts.Cluster, Host: cfg.Host, Err: err}
	}
	groups, err := c.discover(ctx)
	if err != nil {
		return nil, connectError(opts.Cluster, cfg.Host, err)
	}
	l := &loader{c: c, opts: opts, src: model.Source{Cluster: opts.Cluster}}
	l.readAll(ctx, groups)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.result(), nil
}

// clients are the API clients of one cluster.
type clients struct {
	typed   kubernetes.Interface
	dynamic dynamic.Interface
	disc    discoveryClient
}

func newClients(cfg *rest.Config, opts Options) (*clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = opts.RequestTimeout
	if cfg.QPS == 0 {
		// A scan is a burst of list requests; client-go's default of 5/s
		// would make it wait for the limiter rather than the server.
		cfg.QPS, cfg.Burst = 100, 200
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "imdsguard"
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// Built-in kinds are read as protobuf, which decodes several times
	// faster than JSON; CRDs (the dynamic client) are JSON only.
	pb := rest.CopyConfig(cfg)
	pb.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	pb.ContentType = runtime.ContentTypeProtobuf
	typed, err := kubernetes.NewForConfig(pb)
	if err != nil {
		return nil, err
	}
	return &clients{typed: typed, dynamic: dyn, disc: typed.Discovery()}, nil
}

// loader gathers what the lists return. Lists run concurrently; each
// appends under mu.
type loader struct {
	c    *clients
	opts Options
	src  model.Source

	mu         sync.Mutex
	errs       []*manifest.InputError
	marks      []mark
	namespaces []*model.Namespace
	entries    []*entry
	policies   []*model.NetworkPolicy
	accounts   []*model.ServiceAccount
	nodes      []*model.Node
	stubs      []*model.PolicyStub
	admin      []*model.AdminPolicy
	cilium     []*model.CiliumPolicy
	calico     []*model.CalicoPolicy
	tiers      []*model.CalicoTier
	unread     []unread
}

type mark struct{ scope, why string }

// fail records an input error; scope is marked incomplete unless it is nil.
func (l *loader) fail(obj model.ObjectRef, scope *string, format string, args ...any) {
	e := &manifest.InputError{Source: l.src, Object: obj, Msg: fmt.Sprintf(format, args...)}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, e)
	if scope != nil {
		l.marks = append(l.marks, mark{scope: *scope, why: e.Error()})
	}
}

// readAll runs every list concurrently.
func (l *loader) readAll(ctx context.Context, groups servedGroups) {
	var wg sync.WaitGroup
	for _, r := range l.readers(groups) {
		wg.Go(func() { r(ctx) })
	}
	wg.Wait()
}

// result assembles the inventory in a stable order.
func (l *loader) result() *Result {
	inv := model.NewInventory()
	sort.Slice(l.namespaces, func(i, j int) bool { return l.namespaces[i].Name < l.namespaces[j].Name })
	for _, ns := range l.namespaces {
		inv.Namespaces[ns.Name] = ns
	}
	for _, e := range l.entries {
		inv.Namespace(e.w.Ref.Namespace)
	}
	inv.Workloads = fold(l.entries, l.src, func(e *manifest.InputError, scope string) {
		l.errs = append(l.errs, e)
		l.marks = append(l.marks, mark{scope: scope, why: e.Error()})
	})
	sortRefs(l.policies, func(p *model.NetworkPolicy) model.ObjectRef { return p.Ref })
	for _, p := range l.policies {
		inv.Namespace(p.Ref.Namespace)
	}
	inv.NetworkPolicies = l.policies
	sortRefs(l.accounts, func(a *model.ServiceAccount) model.ObjectRef { return a.Ref })
	inv.ServiceAccounts = l.accounts
	sort.Slice(l.nodes, func(i, j int) bool { return l.nodes[i].Name < l.nodes[j].Name })
	inv.Nodes = l.nodes
	sortRefs(l.stubs, func(s *model.PolicyStub) model.ObjectRef { return s.Ref })
	inv.Unsupported = append(l.stubs, l.unreadableStubs(inv)...)
	sortRefs(l.admin, func(p *model.AdminPolicy) model.ObjectRef { return p.Ref })
	inv.AdminPolicies = l.admin
	sortRefs(l.cilium, func(p *model.CiliumPolicy) model.ObjectRef { return p.Ref })
	inv.CiliumPolicies = l.cilium
	l.calico, l.tiers = preferAggregated(l.calico, l.tiers)
	sortRefs(l.calico, func(p *model.CalicoPolicy) model.ObjectRef { return p.Ref })
	inv.CalicoPolicies = l.calico
	sortRefs(l.tiers, func(t *model.CalicoTier) model.ObjectRef { return t.Ref })
	inv.CalicoTiers = l.tiers
	for _, m := range l.marks {
		inv.MarkIncomplete(m.scope, m.why)
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Error() < l.errs[j].Error() })
	return &Result{Inventory: inv, Errors: l.errs}
}

func sortRefs[T any](s []T, ref func(T) model.ObjectRef) {
	sort.Slice(s, func(i, j int) bool { return refLess(ref(s[i]), ref(s[j])) })
}

func refLess(a, b model.ObjectRef) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Name < b.Name
}

// Loader returns Load as the live source of scan.Options.
func Loader(cfg *rest.Config, opts Options) func(context.Context) (*model.Inventory, []*manifest.InputError, error) {
	return func(ctx context.Context) (*model.Inventory, []*manifest.InputError, error) {
		res, err := Load(ctx, cfg, opts)
		if err != nil {
			return nil, nil, err
		}
		return res.Inventory, res.Errors, nil
	}
}
