package cli_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestCompletion drives cobra's hidden __complete command: fixed flag
// values, kubeconfig contexts, and namespace names read from a real API
// server through the context the command line names.
func TestCompletion(t *testing.T) {
	env := testenv.Get(t)
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "complete-me"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", writeKubeconfig(t, map[string]*rest.Config{"prod": env.Config, "staging": env.Config}, "prod"))
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "scan", "--format", ""}, []string{"table", "json", "sarif", "markdown"}},
		{[]string{"__complete", "generate", "--include", ""}, []string{"namespace", "patch", "admission", "node"}},
		{[]string{"__complete", "scan", "--context", ""}, []string{"prod", "staging"}},
		{[]string{"__complete", "scan", "--contexts", "prod,"}, []string{"prod,staging"}},
		{[]string{"__complete", "scan", "--context", "staging", "-n", ""}, []string{"complete-me", "default", "kube-system"}},
	} {
		r := runCLI(t, tc.args...)
		got := strings.Split(strings.TrimSpace(r.out), "\n")
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%v: %q missing from %q (stderr %q)", tc.args, w, got, r.errOut)
			}
		}
	}
}
