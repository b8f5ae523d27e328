package probe

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/probe/probetest"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// applyRole creates the ClusterRole of a file under deploy/rbac.
func applyRole(t *testing.T, env *testenv.Env, file string) string {
	t.Helper()
	f, err := os.Open("../../../deploy/rbac/" + file)
	must(t, err)
	defer f.Close()
	var role rbacv1.ClusterRole
	must(t, yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&role))
	_, err = env.Clientset.RbacV1().ClusterRoles().Create(context.Background(), &role, metav1.CreateOptions{})
	must(t, err)
	return role.Name
}

// TestShippedRoles probes as a user bound to the two shipped roles, and as
// one bound to the scan role alone: the first runs clean, the second is
// refused the pods and says so.
func TestShippedRoles(t *testing.T) {
	env := testenv.Get(t)
	cs := env.Clientset
	cluster(t, cs, []string{"pr-rbac"}, nil)
	probetest.StartKubelet(t, cs, func(*corev1.Pod) probetest.Outcome { return probetest.RunAgent })
	scanRole, probeRole := applyRole(t, env, "clusterrole.yaml"), applyRole(t, env, "probe-clusterrole.yaml")
	targets := loopback(t, fakeimds.Options{})

	cfg, name := env.User(t, scanRole)
	_, err := cs.RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "probe-" + name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: probeRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}},
	}, metav1.CreateOptions{})
	must(t, err)
	r := runCLI(t, append([]string{"--kubeconfig", testenv.Kubeconfig(t, cfg), "-n", "pr-rbac", "--as", "pr-rbac/Deployment/web",
		"-f", "json", "--check", "alibaba"}, targets...)...)
	noProbePodsLeft(t, cs)
	if r.code != cli.ExitFindings || strings.Contains(r.errOut, "forbidden") {
		t.Errorf("with both roles: exit %d, want 1 (credentials served):\n%s", r.code, r.errOut)
	}
	got, _ := findings(t, r.out)
	if len(got) != 2 {
		t.Errorf("with both roles: findings %v, want the credentials of both probes", got)
	}

	scanOnly, _ := env.User(t, scanRole)
	r = runCLI(t, append([]string{"--kubeconfig", testenv.Kubeconfig(t, scanOnly), "-n", "pr-rbac", "-f", "json", "--check", "alibaba"}, targets...)...)
	noProbePodsLeft(t, cs)
	if r.code != cli.ExitInput || !strings.Contains(r.out, "forbidden") {
		t.Errorf("with the scan role alone: exit %d, want 2 and the refusal in the report:\n%s\n%s", r.code, r.out, r.errOut)
	}
}
