// Package rules turns reachability verdicts into findings. Each rule is
// registered once with its metadata (ID, severity, references, remediation)
// and a check; the rule reference in docs/rules.md is generated from here.
package rules
