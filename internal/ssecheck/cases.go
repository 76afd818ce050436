package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing/iotest"
	"time"

	"qrsync/eventsource"
)

// maxFailures bounds how many failed readings one case reports: the first
// few are enough to see what goes wrong.
const maxFailures = 3

// decodeCase is one entry of cases.json (see the file's comment).
type decodeCase struct {
	Name               string      `json:"name"`
	Source             string      `json:"source"`
	Input              string      `json:"input,omitempty"`
	InputBase64        string      `json:"inputBase64,omitempty"`
	InitialLastEventID *string     `json:"initialLastEventId,omitempty"`
	MaxEventSize       int         `json:"maxEventSize,omitempty"`
	Events             []caseEvent `json:"events"`
	LastEventID        string      `json:"lastEventId"`
	RetryMs            *int64      `json:"retryMs"`
	Error              string      `json:"error,omitempty"`
}

// caseEvent is one dispatched event of a case.
type caseEvent struct {
	Type string `json:"type"`
	Data string `json:"data"`
	ID   string `json:"id"`
}

type casesFile struct {
	WPTCases int          `json:"wptCases"`
	Cases    []decodeCase `json:"cases"`
}

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

// outcome is everything a case checks.
type outcome struct {
	Events      []caseEvent
	LastEventID string
	Retry       time.Duration
	HasRetry    bool
	Err         string // "" (clean EOF), "too-large", or another error's text
}

func (o outcome) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "events=[")
	for i, e := range o.Events {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{type %q data %q id %q}", e.Type, e.Data, e.ID)
	}
	fmt.Fprintf(&b, "] lastEventId=%q", o.LastEventID)
	if o.HasRetry {
		fmt.Fprintf(&b, " retry=%v", o.Retry)
	}
	if o.Err != "" {
		fmt.Fprintf(&b, " err=%s", o.Err)
	}
	return b.String()
}

// Run decodes every case of casesJSON in every way and reports the result.
// It fails only when casesJSON cannot be read.
func Run(casesJSON []byte) (Report, error) {
	start := time.Now()
	var f casesFile
	if err := json.Unmarshal(casesJSON, &f); err != nil {
		return Report{}, fmt.Errorf("ssecheck: cases: %w", err)
	}
	rep := Report{
		Runtime:  runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version(),
		Cases:    len(f.Cases),
		WPTCases: f.WPTCases,
		Results:  make([]CaseResult, 0, len(f.Cases)),
	}
	for _, c := range f.Cases {
		if strings.HasPrefix(c.Source, "wpt") {
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

// runCase reads one case in every way and compares each outcome with the
// expected one.
func runCase(c decodeCase) CaseResult {
	res := CaseResult{Name: c.Name}
	in := []byte(c.Input)
	if c.InputBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(c.InputBase64)
		if err != nil {
			res.Failures = []string{"bad inputBase64: " + err.Error()}
			return res
		}
		in = b
	}
	want := outcome{Events: c.Events, LastEventID: c.LastEventID, Err: c.Error}
	if want.Events == nil {
		want.Events = []caseEvent{}
	}
	if c.RetryMs != nil {
		want.Retry, want.HasRetry = time.Duration(*c.RetryMs)*time.Millisecond, true
	}
	check := func(how string, r io.Reader) {
		res.Readings++
		got := decode(r, c.InitialLastEventID, c.MaxEventSize)
		if !reflect.DeepEqual(got, want) && len(res.Failures) < maxFailures {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: got %v, want %v", how, got, want))
		}
	}
	check("whole", bytes.NewReader(in))
	check("one byte per read", iotest.OneByteReader(bytes.NewReader(in)))
	check("data with EOF", iotest.DataErrReader(bytes.NewReader(in)))
	check("half reads", iotest.HalfReader(bytes.NewReader(in)))
	for i := 0; i <= len(in); i++ {
		check("split at "+strconv.Itoa(i), io.MultiReader(bytes.NewReader(in[:i]), bytes.NewReader(in[i:])))
	}
	res.Pass = len(res.Failures) == 0
	return res
}

// decode runs a Decoder over r until it stops and records what it saw.
func decode(r io.Reader, initialID *string, limit int) outcome {
	d := eventsource.NewDecoder(r)
	d.SetMaxEventSize(limit)
	if initialID != nil {
		d.SetLastEventID(*initialID)
	}
	o := outcome{Events: []caseEvent{}}
	for {
		ev, err := d.Next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case errors.Is(err, eventsource.ErrEventTooLarge):
				o.Err = "too-large"
			default:
				o.Err = err.Error()
			}
			// Errors are sticky.
			if _, err2 := d.Next(); err2 != err {
				o.Err += fmt.Sprintf(" (then %v: not sticky)", err2)
			}
			break
		}
		o.Events = append(o.Events, caseEvent{Type: ev.Type, Data: ev.Data, ID: ev.ID})
	}
	o.LastEventID = d.LastEventID()
	o.Retry, o.HasRetry = d.Retry()
	return o
}
