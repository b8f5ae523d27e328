package synth

import "math/rand/v2"

type gen struct {
	w  *countingWriter
	r  *rand.Rand
	ns string
}

var kinds = []struct{ apiVersion, kind string }{
	{"apps/v1", "Deployment"}, {"apps/v1", "Deployment"}, {"apps/v1", "Deployment"},
	{"apps/v1", "StatefulSet"}, {"apps/v1", "DaemonSet"}, {"batch/v1", "Job"}, {"batch/v1", "CronJob"},
}

var tiers = []string{"frontend", "backend", "cache", "worker"}

func (g *gen) namespace() {
	g.w.printf("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    team: %s\n    env: %s\n",
		g.ns, g.ns, []string{"prod", "staging", "dev"}[g.r.IntN(3)])
}

func (g *gen) workload(j int) {
	k := kinds[g.r.IntN(len(kinds))]
	tier := tiers[g.r.IntN(len(tiers))]
	host := g.r.IntN(200) == 0
	g.w.printf("---\napiVersion: %s\nkind: %s\nmetadata:\n  name: app-%03d\n  namespace: %s\n  labels:\n    app: app-%03d\n    tier: %s\n",
		k.apiVersion, k.kind, j, g.ns, j, tier)
	g.w.printf("  annotations:\n    owner: %s@example.com\n", g.ns)
	g.w.printf("spec:\n")
	indent := "  "
	if k.kind == "CronJob" {
		g.w.printf("  schedule: \"*/15 * * * *\"\n  jobTemplate:\n    spec:\n")
		indent = "      "
	} else if k.kind != "Job" {
		g.w.printf("  selector:\n    matchLabels:\n      app: app-%03d\n", j)
	}
	g.w.printf("%stemplate:\n%s  metadata:\n%s    labels:\n%s      app: app-%03d\n%s      tier: %s\n",
		indent, indent, indent, indent, j, indent, tier)
	g.w.printf("%s  spec:\n", indent)
	if host {
		g.w.printf("%s    hostNetwork: true\n", indent)
	}
	g.w.printf("%s    serviceAccountName: sa-%03d\n%s    containers:\n%s    - name: main\n%s      image: registry.example.com/%s/app-%03d:1.%d.%d\n",
		indent, j, indent, indent, indent, g.ns, j, g.r.IntN(20), g.r.IntN(50))
	g.w.printf("%s      ports:\n%s      - name: http\n%s        containerPort: 8080\n%s      resources:\n%s        requests: {cpu: 100m, memory: 128Mi}\n",
		indent, indent, indent, indent, indent)
}

func (g *gen) policy(j, workloads int) {
	g.w.printf("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-%03d\n  namespace: %s\nspec:\n", j, g.ns)
	switch g.r.IntN(6) {
	case 0: // the usual deny-metadata policy
		g.w.printf("  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 0.0.0.0/0\n        except: [169.254.169.254/32]\n    - ipBlock:\n        cidr: ::/0\n        except: [fd00:ec2::254/128]\n")
	case 1: // allow all egress for one app: re-opens metadata
		g.w.printf("  podSelector:\n    matchLabels:\n      app: app-%03d\n  policyTypes: [Egress]\n  egress:\n  - {}\n", g.r.IntN(max(workloads, 1)))
	case 2: // DNS only, by tier
		g.w.printf("  podSelector:\n    matchExpressions:\n    - {key: tier, operator: In, values: [%s, %s]}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - {protocol: UDP, port: 53}\n    - {protocol: TCP, port: 53}\n",
			tiers[g.r.IntN(4)], tiers[g.r.IntN(4)])
	case 3: // a web range
		g.w.printf("  podSelector:\n    matchLabels:\n      tier: %s\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/8\n    ports:\n    - {port: 443}\n    - {port: 8000, endPort: 8100}\n", tiers[g.r.IntN(4)])
	case 4: // ingress only
		g.w.printf("  podSelector:\n    matchLabels:\n      app: app-%03d\n  ingress:\n  - from:\n    - podSelector: {}\n", g.r.IntN(max(workloads, 1)))
	default: // broad egress on port 80, which includes metadata
		g.w.printf("  podSelector:\n    matchExpressions:\n    - {key: tier, operator: NotIn, values: [cache]}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {cidr: 0.0.0.0/0}\n    ports:\n    - {protocol: TCP, port: 80}\n")
	}
}
