package nodesettings

import (
	"fmt"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

// domain is every state a setting can be in: unset, each value that
// matters, and unresolved.
func domain(values ...string) []model.Value {
	out := []model.Value{{State: model.Unset, Source: at(1)}}
	for _, v := range values {
		out = append(out, set(v, 2))
	}
	return append(out, unres("not known", 3))
}

// concretes replaces an unresolved value by each value it could stand for.
func concretes(v model.Value, d []model.Value) []model.Value {
	if v.State != model.Unresolved {
		return []model.Value{v}
	}
	var out []model.Value
	for _, c := range d {
		if c.State != model.Unresolved {
			out = append(out, c)
		}
	}
	return out
}

// product calls f with every combination of one value per domain.
func product(domains [][]model.Value, f func([]model.Value)) {
	cur := make([]model.Value, len(domains))
	var rec func(int)
	rec = func(i int) {
		if i == len(domains) {
			f(append([]model.Value(nil), cur...))
			return
		}
		for _, v := range domains[i] {
			cur[i] = v
			rec(i + 1)
		}
	}
	rec(0)
}

// checkSound asserts the invariant for one combination: a verdict other
// than Unknown reached with unresolved values holds for every value they
// could stand for. In particular no unresolved value yields
// CredentialsWithheld unless every value it could have withholds too.
func checkSound(t *testing.T, name string, vals []model.Value, domains [][]model.Value, eval func([]model.Value) Outcome) {
	t.Helper()
	got := eval(vals)
	anyUnresolved := false
	options := make([][]model.Value, len(vals))
	for i, v := range vals {
		anyUnresolved = anyUnresolved || v.State == model.Unresolved
		options[i] = concretes(v, domains[i])
	}
	if !anyUnresolved || got.Verdict == Unknown {
		return
	}
	product(options, func(c []model.Value) {
		if alt := eval(c); alt.Verdict != got.Verdict {
			t.Errorf("%s: %s gives %v (%s), but with %s it would be %v (%s)",
				name, show(vals), got.Verdict, got.Reason, show(c), alt.Verdict, alt.Reason)
		}
	})
}

func show(vals []model.Value) string {
	s := ""
	for _, v := range vals {
		if v.State == model.Set {
			s += fmt.Sprintf("[%s]", v.Raw)
		} else {
			s += fmt.Sprintf("[%s]", v.State)
		}
	}
	return s
}

func TestUnresolvedAWSNeverClaimsMoreThanShown(t *testing.T) {
	plain := [][]model.Value{
		domain("enabled", "disabled"), // endpoint
		domain("optional", "required"),
		domain("1", "2"),              // hop limit
		domain("enabled", "disabled"), // IPv6
		domain("applied", "pending"),  // state
	}
	eksctl := [][]model.Value{
		domain("enabled", "disabled"),
		domain("enabled", "disabled"),
		domain("applied", "pending"),
		domain("true", "false"), // disableIMDSv1
		domain("true", "false"), // disablePodIMDS
	}
	combos := 0
	for _, class := range []Class{PodNetwork, HostNetwork} {
		for _, family := range []Family{IPv4, IPv6} {
			name := fmt.Sprintf("%v %v", class, family)
			evalPlain := func(v []model.Value) Outcome {
				return Evaluate(awsConfig("aws_launch_template", model.AWSMetadataOptions{
					HTTPEndpoint: v[0], HTTPTokens: v[1], HopLimit: v[2], HTTPProtocolIPv6: v[3], State: v[4]}), class, family)
			}
			product(plain, func(v []model.Value) {
				combos++
				checkSound(t, "plain "+name, v, plain, evalPlain)
			})
			evalEksctl := func(v []model.Value) Outcome {
				return Evaluate(awsConfig(eksctlManagedNodeGroupKind, model.AWSMetadataOptions{
					HTTPEndpoint: v[0], HTTPProtocolIPv6: v[1], State: v[2], EksctlDisableIMDSv1: v[3], EksctlDisablePodIMDS: v[4]}), class, family)
			}
			product(eksctl, func(v []model.Value) {
				combos++
				checkSound(t, "eksctl "+name, v, eksctl, evalEksctl)
			})
		}
	}
	if combos < 4000 {
		t.Fatalf("only %d combinations checked", combos)
	}
}

func TestUnresolvedGKENeverClaimsMoreThanShown(t *testing.T) {
	domains := [][]model.Value{
		domain("GKE_METADATA", "GKE_METADATA_SERVER", "GCE_METADATA", "EXPOSE", "SECURE", "MODE_UNSPECIFIED"),
		domain("true", "false"), // disable-legacy-endpoints
		domain("p.svc.id.goog"), // workload pool
	}
	for _, class := range []Class{PodNetwork, HostNetwork} {
		eval := func(v []model.Value) Outcome {
			return Evaluate(gkeConfig(model.GKEMetadata{WorkloadMetadataMode: v[0], DisableLegacyEndpoints: v[1], WorkloadPool: v[2]}), class, IPv4)
		}
		product(domains, func(v []model.Value) {
			checkSound(t, class.String(), v, domains, eval)
			// The legacy endpoints too: open or closed only when shown.
			got := eval(v)
			if got.LegacyEndpoints == Undetermined {
				return
			}
			options := make([][]model.Value, len(v))
			for i := range v {
				options[i] = concretes(v[i], domains[i])
			}
			product(options, func(c []model.Value) {
				if alt := eval(c); alt.LegacyEndpoints != got.LegacyEndpoints {
					t.Errorf("%v: %s gives legacy endpoints %v, but %s gives %v", class, show(v), got.LegacyEndpoints, show(c), alt.LegacyEndpoints)
				}
			})
		})
	}
}
