package pods

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Client reads the core/v1 objects the proxy needs: its Node, and the Pods
// and Namespaces it watches. It registers core/v1 alone, where a
// kubernetes.Clientset registers every API group (and the proxy's memory
// pays for them from the start; docs/performance.md).
type Client struct {
	rest rest.Interface
}

// NewClient returns a Client for the cluster rc points at. It speaks
// protobuf, as the built-in clients do.
func NewClient(rc *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(rc)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc2, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("pods: core/v1 client: %w", err)
	}
	return &Client{rest: rc2}, nil
}

// node reads one Node.
func (c *Client) node(ctx context.Context, name string) (*corev1.Node, error) {
	n := &corev1.Node{}
	return n, c.rest.Get().Resource("nodes").Name(name).Do(ctx).Into(n)
}

// listWatch lists and watches one resource in all namespaces, narrowed by
// a field selector ("" for all).
func (c *Client) listWatch(resource, fieldSelector string) cache.ListerWatcher {
	return cache.NewFilteredListWatchFromClient(c.rest, resource, metav1.NamespaceAll, func(o *metav1.ListOptions) {
		o.FieldSelector = fieldSelector
	})
}
