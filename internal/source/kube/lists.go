package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"

	"github.com/imdsguard/imdsguard/internal/model"
)

// resource names a list the loader makes.
type resource struct {
	apiVersion, kind string
	// plural is the resource name, as RBAC rules spell it.
	plural string
	// clusterScoped resources are listed whole even with a namespace.
	clusterScoped bool
	// affects is false for lists whose absence changes no verdict (Nodes:
	// without them every cloud's endpoints are checked).
	affects bool
}

func (r resource) group() string {
	g, _, ok := cut(r.apiVersion)
	if !ok {
		return ""
	}
	return g
}

func cut(apiVersion string) (string, string, bool) {
	for i := range len(apiVersion) {
		if apiVersion[i] == '/' {
			return apiVersion[:i], apiVersion[i+1:], true
		}
	}
	return "", apiVersion, false
}

// qualified is "plural.group", the form RBAC errors and kubectl use.
func (r resource) qualified() string {
	if g := r.group(); g != "" {
		return r.plural + "." + g
	}
	return r.plural
}

// namespace is where r is listed: "" for all namespaces.
func (l *loader) namespace(r resource) string {
	if r.clusterScoped {
		return ""
	}
	return l.opts.Namespace
}

// list pages through a list with limit/continue and calls each for every
// item. A failure is an input error; a forbidden list names the resource and
// verb, and marks the scope incomplete when the resource affects verdicts.
func (l *loader) list(ctx context.Context, r resource, page pager.ListPageFunc, each func(runtime.Object)) {
	p := pager.New(page)
	p.PageSize = l.opts.PageSize
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		each(obj)
		if c := l.opts.Objects; c != nil {
			c.Add(1)
		}
		return nil
	})
	if err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
		// NotFound: the server does not serve this resource, so there are
		// no such objects.
		return
	}
	l.listFailed(r, err)
}

func (l *loader) listFailed(r resource, err error) {
	ns := l.namespace(r)
	where := "in all namespaces"
	switch {
	case r.clusterScoped:
		where = "(cluster-scoped)"
	case ns != "":
		where = "in namespace " + ns
	}
	var scope *string
	if r.affects {
		scope = &ns
	}
	if r == resNetworkPolices || isStub(r) {
		l.unreadable(r, ns)
	}
	// The error is about a list, not an object: the message names the
	// resource and namespace.
	ref := model.ObjectRef{}
	msg := err.Error()
	if apierrors.IsForbidden(err) {
		msg = fmt.Sprintf("forbidden (grant list on %s; see deploy/rbac/clusterrole.yaml)", r.qualified())
	}
	l.fail(ref, scope, "cannot list %s %s: %s%s", r.plural, where, msg, consequence(r))
}

func consequence(r resource) string {
	if !r.affects {
		return "; the metadata endpoints of every cloud are checked"
	}
	return "; verdicts there are Unknown"
}

// isStub reports whether r is a policy kind the engine does not evaluate.
func isStub(r resource) bool {
	_, ok := stubKinds[r.group()+"/"+r.kind]
	return ok
}
