package main

import (
	"os"
	"testing"
)

// TestRunNative runs every case natively through the same code the browser
// build runs: all must pass, and the count must match the file's.
func TestRunNative(t *testing.T) {
	in, err := os.ReadFile("../../eventsource/testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !r.Pass {
			t.Errorf("%s: %v", r.Name, r.Failures)
		}
	}
	if rep.WPTFound != rep.WPTCases {
		t.Errorf("cases.json says %d WPT cases, found %d", rep.WPTCases, rep.WPTFound)
	}
	if rep.Cases == 0 || rep.Passed != rep.Cases {
		t.Errorf("%d of %d cases pass", rep.Passed, rep.Cases)
	}
	t.Logf("%s: %d/%d cases pass (%d from WPT), %d readings, %.0f ms", rep.Runtime, rep.Passed, rep.Cases, rep.WPTFound, rep.Readings, rep.Millis)
}

// TestRunRejectsBadInput checks that a file that is not the cases is an
// error, not an empty pass.
func TestRunRejectsBadInput(t *testing.T) {
	if _, err := Run([]byte("not json")); err == nil {
		t.Fatal("Run accepted a file that is not JSON")
	}
}

// TestRunCatchesAWrongExpectation makes sure the runner can fail: a case
// whose expected last event ID is changed must be reported as failing.
func TestRunCatchesAWrongExpectation(t *testing.T) {
	in := []byte(`{"wptCases": 0, "cases": [
		{"name": "right", "source": "extra", "input": "id: 1\ndata: a\n\n", "events": [{"type": "message", "data": "a", "id": "1"}], "lastEventId": "1", "retryMs": null},
		{"name": "wrong", "source": "extra", "input": "id: 1\ndata: a\n\n", "events": [{"type": "message", "data": "a", "id": "1"}], "lastEventId": "2", "retryMs": null}
	]}`)
	rep, err := Run(in)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 1 || !rep.Results[0].Pass || rep.Results[1].Pass || len(rep.Results[1].Failures) != maxFailures {
		t.Fatalf("report: %+v", rep)
	}
}
