package cli

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// completionTimeout bounds the API call a namespace completion makes: a
// shell waits for it.
const completionTimeout = 3 * time.Second

// fixedCompletions are flag values known without asking anyone.
var fixedCompletions = map[string][]string{
	"format":          {"table", "json", "sarif", "markdown", "html"},
	"cloud":           {"auto", "all", "aws", "gcp", "azure", "alibaba", "oracle", "openstack", "digitalocean"},
	"fail-on":         {"critical", "high", "medium", "low", "info", "none"},
	"color":           {"auto", "always", "never"},
	"include":         {"namespace", "patch", "cluster", "admission", "detection", "node"},
	"cluster-kinds":   {"anp", "banp", "cnp", "cilium", "calico"},
	"admission-kinds": {"vap", "kyverno", "gatekeeper"},
	"dry-run":         {"none", "server"},
}

// RegisterCompletions adds value completion to the flags of every command
// under root: fixed lists, kubeconfig contexts, and the namespaces of the
// chosen cluster.
func RegisterCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for name, values := range fixedCompletions {
			if c.Flags().Lookup(name) != nil {
				vs := values
				_ = c.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
					return vs, cobra.ShellCompDirectiveNoFileComp
				})
			}
		}
		if c.Flags().Lookup("context") != nil {
			_ = c.RegisterFlagCompletionFunc("context", completeContexts)
			_ = c.RegisterFlagCompletionFunc("contexts", completeContexts)
		}
		if c.Flags().Lookup("namespace") != nil {
			_ = c.RegisterFlagCompletionFunc("namespace", completeNamespaces)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// loadingRules follows --kubeconfig, as the commands do.
func loadingRules(cmd *cobra.Command) *clientcmd.ClientConfigLoadingRules {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f := cmd.Flags().Lookup("kubeconfig"); f != nil {
		rules.ExplicitPath = f.Value.String()
	}
	return rules
}

func completeContexts(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	raw, err := loadingRules(cmd).Load()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	// --contexts takes a comma-separated list: complete its last item.
	prefix := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		prefix = toComplete[:i+1]
	}
	var out []string
	for name := range raw.Contexts {
		out = append(out, prefix+name)
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

func completeNamespaces(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	override := &clientcmd.ConfigOverrides{}
	if f := cmd.Flags().Lookup("context"); f != nil {
		override.CurrentContext = f.Value.String()
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loadingRules(cmd), override).ClientConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	cfg.Timeout = completionTimeout
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
