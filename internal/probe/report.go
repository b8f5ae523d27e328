package probe

import (
	"encoding/json"
	"fmt"
)

// ReportVersion names the agent's output format.
const ReportVersion = "imdsguard.io/probe-agent/v1"

// MaxMessage is the size of a container termination message: the agent's
// whole report must fit in it.
const MaxMessage = 4096

// Report is what the agent found.
type Report struct {
	Version string   `json:"v"`
	Results []Result `json:"results"`
}

// Result is one check's answer.
type Result struct {
	Check    string `json:"check"`
	Endpoint string `json:"endpoint"`
	// Target is where the check connected ("host:port").
	Target string `json:"target"`
	Class  Class  `json:"class"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Encode renders the report as JSON of at most MaxMessage bytes: details
// are shortened, then dropped, before the report is too long.
func (r *Report) Encode() ([]byte, error) {
	for _, limit := range []int{-1, 80, 24, 0} {
		c := *r
		c.Results = make([]Result, len(r.Results))
		for i, res := range r.Results {
			if limit >= 0 && len(res.Detail) > limit {
				res.Detail = res.Detail[:limit]
			}
			c.Results[i] = res
		}
		b, err := json.Marshal(&c)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxMessage {
			return b, nil
		}
	}
	return nil, fmt.Errorf("probe report: %d results do not fit in %d bytes", len(r.Results), MaxMessage)
}

// Decode reads a report written by Encode.
func Decode(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("probe report: %w", err)
	}
	if r.Version != ReportVersion {
		return nil, fmt.Errorf("probe report: version %q, want %q", r.Version, ReportVersion)
	}
	return &r, nil
}
