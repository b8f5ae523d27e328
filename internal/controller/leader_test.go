package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestLeaderElectionFailover runs two managers with leader election: one
// leads and reconciles; when it stops, the other takes the Lease over and
// protects the next new namespace.
func TestLeaderElectionFailover(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	createNamespace(t, env, "le-system", nil, nil)
	newManager := func() manager.Manager {
		t.Helper()
		mgr, _, err := controller.New(controller.Options{
			Config:                  env.Config,
			Policy:                  protection.ForClouds(protection.Enforce, nil, nil, []string{"kube-system", "le-system"}),
			MetricsAddr:             "0",
			Registerer:              prometheus.NewRegistry(),
			LeaderElection:          true,
			LeaderElectionNamespace: "le-system",
			LeaderElectionID:        "le-test",
			LeaseDuration:           3 * time.Second,
			RenewDeadline:           2 * time.Second,
			RetryPeriod:             200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return mgr
	}
	holder := func() string {
		l, err := env.Clientset.CoordinationV1().Leases("le-system").Get(ctx, "le-test", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	elected := func(m manager.Manager, within time.Duration) bool {
		select {
		case <-m.Elected():
			return true
		case <-time.After(within):
			return false
		}
	}

	a := newManager()
	stopA := testenv.Run(t, a.Start)
	if !elected(a, testenv.WaitTimeout) {
		t.Fatal("the first manager was not elected")
	}
	first := holder()
	b := newManager()
	testenv.Run(t, b.Start)
	// Several retry periods: the second must stay a follower while the
	// first renews.
	if elected(b, 2*time.Second) {
		t.Fatal("two leaders at once")
	}
	createNamespace(t, env, "le-1", nil, nil)
	waitManaged(t, env, "le-1", managedName, emptySelector)

	stopA()
	if !elected(b, testenv.WaitTimeout) {
		t.Fatal("the second manager did not take over")
	}
	testenv.Eventually(t, "a new Lease holder", func() (bool, string) {
		h := holder()
		return h != "" && h != first, fmt.Sprintf("holder %q (first %q)", h, first)
	})
	createNamespace(t, env, "le-2", nil, nil)
	waitManaged(t, env, "le-2", managedName, emptySelector)
}
