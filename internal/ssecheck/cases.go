package main

import (
	"fmt"
	"reflect"
	"runtime"
	"time"

	"qrsync/eventsource/ssecases"
)

// maxFailures bounds how many failed readings one case reports: the first
// few are enough to see what goes wrong.
const maxFailures = 3

// Report is what a run of the cases found, as ssecheckRun returns it.
type Report struct {
	// Runtime names where the decoder ran, e.g. "js/wasm go1.26.8".
	Runtime string `json:"runtime"`
	// Cases is how many cases the file holds; WPTCases how many of them
	// the file says come from web-platform-tests, WPTFound how many name
	// such a source.
	Cases    int `json:"cases"`
	WPTCases int `json:"wptCases"`
	WPTFound int `json:"wptFound"`
	// Passed counts the cases whose every reading gave the expected
	// outcome; Readings counts the readings done in all.
	Passed   int `json:"passed"`
	Readings int `json:"readings"`
	// Millis is how long the run took on the runtime's own clock.
	Millis float64 `json:"millis"`
	// Results has one entry per case, in the file's order.
	Results []CaseResult `json:"results"`
}

// CaseResult is the verdict on one case.
type CaseResult struct {
	// Name is the case's name in cases.json.
	Name string `json:"name"`
	// Pass is set when every reading gave the expected outcome.
	Pass bool `json:"pass"`
	// Readings is how many ways the case was read.
	Readings int `json:"readings"`
	// Failures describes the first few readings that went wrong.
	Failures []string `json:"failures,omitempty"`
}

// Run decodes every case of casesJSON in every way and reports the result.
// It fails only when casesJSON cannot be read.
func Run(casesJSON []byte) (Report, error) {
	start := time.Now()
	f, err := ssecases.Parse(casesJSON)
	if err != nil {
		return Report{}, fmt.Errorf("ssecheck: %w", err)
	}
	rep := Report{
		Runtime:  runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version(),
		Cases:    len(f.Cases),
		WPTCases: f.WPTCases,
		Results:  make([]CaseResult, 0, len(f.Cases)),
	}
	for _, c := range f.Cases {
		if c.FromWPT() {
			rep.WPTFound++
		}
		r := runCase(c)
		rep.Readings += r.Readings
		if r.Pass {
			rep.Passed++
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Millis = float64(time.Since(start).Microseconds()) / 1000
	return rep, nil
}

// runCase reads one case in every way ssecases.Readings gives, as the
// eventsource tests do, and compares each outcome with the expected one.
// Unlike those tests it reads on after the first failures, so that
// Readings counts the same work whatever the result.
func runCase(c ssecases.Case) CaseResult {
	res := CaseResult{Name: c.Name}
	in, err := c.Bytes()
	if err != nil {
		res.Failures = []string{err.Error()}
		return res
	}
	want := c.Want()
	for how, r := range ssecases.Readings(in) {
		res.Readings++
		if got := c.Decode(r); !reflect.DeepEqual(got, want) && len(res.Failures) < maxFailures {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: got %v, want %v", how, got, want))
		}
	}
	res.Pass = len(res.Failures) == 0
	return res
}
