package report

import (
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// ANSI colours. Each code is five bytes, "plain" included, so that painting
// every cell of a tabwriter block adds the same width to each and keeps the
// columns aligned.
const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiPlain  = "\x1b[39m"
	ansiReset  = "\x1b[0m"
)

// painter colours text when true and leaves it alone when false.
type painter bool

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

func (p painter) plain(s string) string { return p.paint(ansiPlain, s) }

func (p painter) verdict(v reach.Verdict) string { return p.verdictText(v, v.String()) }

func (p painter) verdictText(v reach.Verdict, s string) string {
	switch v {
	case reach.Reachable:
		return p.paint(ansiRed, s)
	case reach.Unknown:
		return p.paint(ansiYellow, s)
	default:
		return p.paint(ansiGreen, s)
	}
}

func (p painter) severity(s rules.Severity) string { return p.severityText(s, s.String()) }

func (p painter) severityText(s rules.Severity, text string) string {
	switch s {
	case rules.Critical, rules.High:
		return p.paint(ansiRed, text)
	case rules.Medium:
		return p.paint(ansiYellow, text)
	default:
		return p.plain(text)
	}
}
