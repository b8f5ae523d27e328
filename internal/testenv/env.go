package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// maxUsers is the number of token users written to the token file; the
// API server reads it once, at start.
const maxUsers = 64

// Env is a running etcd and kube-apiserver.
type Env struct {
	// Config authenticates as a cluster admin (system:masters).
	Config *rest.Config
	// Clientset is a client for Config.
	Clientset *kubernetes.Clientset

	env      *envtest.Environment
	dir      string
	mu       sync.Mutex
	nextUser int
}

// Start starts a control plane for one test and stops it when the test
// ends. Most packages share one through Main and Get instead.
func Start(tb testing.TB) *Env {
	tb.Helper()
	requireAssets(tb)
	e, err := start()
	if err != nil {
		tb.Fatalf("starting control plane: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Stop(); err != nil {
			tb.Errorf("stopping control plane: %v", err)
		}
	})
	return e
}

// requireAssets fails or skips the test when the binaries are missing:
// under CI=true it always fails, with -short it skips, otherwise it fails
// and says how to install them.
func requireAssets(tb testing.TB) {
	tb.Helper()
	_, err := AssetsDir()
	switch {
	case err == nil:
	case os.Getenv("CI") == "true":
		tb.Fatalf("CI=true and %v", err)
	case errors.Is(err, errMissing) && testing.Short():
		tb.Skipf("skipping in -short mode: %v", err)
	default:
		tb.Fatalf("%v", err)
	}
}

// start writes the token file and starts etcd and kube-apiserver.
func start() (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "imdsguard-testenv-")
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := writeTokens(tokens); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	useExisting := false
	te := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		UseExistingCluster:       &useExisting,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	api := te.ControlPlane.GetAPIServer()
	api.Configure().Set("token-auth-file", tokens)
	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		os.RemoveAll(dir)
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = te.Stop()
		os.RemoveAll(dir)
		return nil, err
	}
	return &Env{Config: cfg, Clientset: cs, env: te, dir: dir}, nil
}

// Stop stops kube-apiserver and etcd and removes their files.
func (e *Env) Stop() error {
	err := e.env.Stop()
	os.RemoveAll(e.dir)
	return err
}

func writeTokens(path string) error {
	var b []byte
	for i := range maxUsers {
		b = fmt.Appendf(b, "%s,%s,%s\n", token(i), userName(i), "uid-"+strconv.Itoa(i))
	}
	return os.WriteFile(path, b, 0o600)
}

func token(i int) string    { return fmt.Sprintf("imdsguard-test-token-%04d", i) }
func userName(i int) string { return "user-" + strconv.Itoa(i) }

// User returns the config of a new token-authenticated user (in no group
// but system:authenticated) bound to the named ClusterRole cluster-wide.
// It returns the user's name too, for further bindings.
func (e *Env) User(tb testing.TB, clusterRole string) (*rest.Config, string) {
	tb.Helper()
	e.mu.Lock()
	i := e.nextUser
	e.nextUser++
	e.mu.Unlock()
	if i >= maxUsers {
		tb.Fatalf("testenv: more than %d users", maxUsers)
	}
	name := userName(i)
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "testenv-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		tb.Fatalf("binding %s to ClusterRole %s: %v", name, clusterRole, err)
	}
	e.waitAuthorized(ctx, tb, name, clusterRole)
	return e.TokenConfig(token(i)), name
}

// waitAuthorized waits until the API server's authorizer grants user the
// first rule of clusterRole (see WaitAuthorized). A role that does not exist
// yet, or has no resource rule, is not waited for.
func (e *Env) waitAuthorized(ctx context.Context, tb testing.TB, user, clusterRole string) {
	tb.Helper()
	role, err := e.Clientset.RbacV1().ClusterRoles().Get(ctx, clusterRole, metav1.GetOptions{})
	if err != nil || len(role.Rules) == 0 {
		return
	}
	r := role.Rules[0]
	if len(r.Verbs) == 0 || len(r.Resources) == 0 || len(r.APIGroups) == 0 {
		return
	}
	e.WaitAuthorized(tb, user, r.Verbs[0], r.APIGroups[0], r.Resources[0])
}

// WaitAuthorized waits until the API server's authorizer, which learns of
// RBAC objects through its own informers, lets user (for a ServiceAccount,
// system:serviceaccount:NS:NAME) do verb on resource of group anywhere: a
// request sent at once could otherwise be refused on a busy machine.
func (e *Env) WaitAuthorized(tb testing.TB, user, verb, group, resource string) {
	tb.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource}}}
	if strings.HasPrefix(user, "system:serviceaccount:") {
		sar.Spec.Groups = []string{"system:serviceaccounts", "system:authenticated"}
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := e.Clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		return err == nil && got.Status.Allowed, nil
	})
	if err != nil {
		tb.Fatalf("testenv: the authorizer did not let %s %s %s: %v", user, verb, resource, err)
	}
}

// TokenConfig returns a config that presents a bearer token (valid or not)
// and trusts the API server's certificate.
func (e *Env) TokenConfig(tok string) *rest.Config {
	return &rest.Config{
		Host:            e.Config.Host,
		BearerToken:     tok,
		TLSClientConfig: rest.TLSClientConfig{CAData: e.Config.CAData},
	}
}
