package generate

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	gen "github.com/imdsguard/imdsguard/internal/generate"
	"github.com/imdsguard/imdsguard/internal/model"
)

// liveOriginals reads policies to patch from the API server, without the
// fields the server owns.
type liveOriginals struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (l *liveOriginals) Original(np *model.NetworkPolicy) (*unstructured.Unstructured, error) {
	obj, err := l.client.NetworkingV1().NetworkPolicies(np.Ref.Namespace).Get(l.ctx, np.Ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("networking.k8s.io/v1")
	u.SetKind("NetworkPolicy")
	gen.StripServerFields(u)
	return u, nil
}
