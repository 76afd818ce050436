//go:build unix

package interop

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"qrsync/eventsource/ssecases"
	"qrsync/internal/browsertest"
)

// loadCases reads the decoder's cases, as every other test of them does.
func loadCases(t testing.TB) ssecases.File {
	t.Helper()
	file, err := ssecases.Load(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// forEventSource tells whether a browser's EventSource can be fed the
// case: not when it starts from a last event ID (a fresh EventSource has
// none) or depends on our decoder's size limit (browsers have none).
func forEventSource(c ssecases.Case) bool {
	return c.InitialLastEventID == nil && c.MaxEventSize == 0 && c.Error == ""
}

// deviation is a case on which a browser's EventSource is known to differ
// from the WHATWG rules that cases.json (and our decoder) follow: what it
// dispatches instead, and why. A deviation that goes away (the browser was
// fixed) fails the test, so the list stays true.
type deviation struct {
	got []wireEvent
	why string
}

// knownDeviations are by browser and case name. None of them touches
// qrsync: its events always carry data and its ids are NUL-free ASCII, and
// the PC page decodes the stream with our decoder, not the EventSource.
var knownDeviations = map[string]map[string]deviation{
	"Firefox EventSource": {
		"id-only-event-then-event": {
			got: []wireEvent{{"message", "", "x"}},
			why: "Firefox does not commit the id of an event without data: the blank line of \"id: 7\" must set the last event ID before the empty data is dropped (WHATWG dispatch step 1; Chromium does)",
		},
		"id-with-nul-keeps-previous": {
			got: []wireEvent{{"message", "1", "a"}},
			why: "Firefox ignores an id with a NUL after its first character, as it should, but loses the line that follows it too (here \"data: b\", so the event is gone; a later event is fine); WPT's format-field-id-null has a retry line there, which hides it",
		},
		"nul-in-type": {
			got: []wireEvent{{"ab", "", "x"}},
			why: "Firefox drops a NUL that is not the first character of a field value, so \"event: a\\0b\" becomes type \"ab\" (and \"data: a\\0b\" data \"ab\"); WPT's format-null-character only has a NUL as the first character",
		},
	},
}

// runCasesInEventSource serves every case a browser can take, as the body
// of an event stream, to the browser's own EventSource, and checks that
// it dispatches exactly the events cases.json expects: the expectations
// our decoder is held to are what real browsers do, not only what we read
// in the spec.
func runCasesInEventSource(t *testing.T, who string, launch func(pageURL string), file ssecases.File) {
	start := time.Now()
	type listed struct {
		N int `json:"n"`
	}
	var list struct {
		Cases []listed `json:"cases"`
		Types []string `json:"types"`
	}
	types := map[string]bool{"message": true}
	bodies := map[int][]byte{}
	for i, c := range file.Cases {
		if !forEventSource(c) {
			continue
		}
		body, err := c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		bodies[i] = body
		list.Cases = append(list.Cases, listed{i})
		for _, e := range c.Events {
			types[e.Type] = true
		}
	}
	for _, d := range knownDeviations[who] {
		for _, e := range d.got {
			types[e.Type] = true
		}
	}
	for typ := range types {
		list.Types = append(list.Types, typ)
	}
	sort.Strings(list.Types)

	ps := newPageServer(t, map[string]string{
		"/cases-es.html": "testdata/cases-es.html",
		"/cases-es.js":   "testdata/cases-es.js",
	}, "")
	var mu sync.Mutex
	served := map[int]int{}
	ps.handle("/cases-es.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})
	ps.handle("/case/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/case/"))
		body, ok := bodies[n]
		if err != nil || !ok {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		served[n]++
		again := served[n] > 1
		mu.Unlock()
		if again {
			// The page closes each EventSource when its stream ends;
			// should one reconnect anyway, 204 stops it for good.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	})

	launch(ps.URL() + "/cases-es.html")
	var rep struct {
		UserAgent string  `json:"userAgent"`
		Millis    float64 `json:"ms"`
		Error     string  `json:"error"`
		Results   []struct {
			N      int         `json:"n"`
			Events []wireEvent `json:"events"`
		} `json:"results"`
	}
	ps.waitReport(waitLaunch, &rep)
	if rep.Error != "" {
		t.Fatalf("%s: the page failed: %s", who, rep.Error)
	}
	if len(rep.Results) != len(list.Cases) {
		t.Fatalf("%s: %d results for %d cases", who, len(rep.Results), len(list.Cases))
	}
	pass, wpt, deviating := 0, 0, 0
	seenDeviation := map[string]bool{}
	for i, res := range rep.Results {
		if res.N != list.Cases[i].N {
			t.Fatalf("%s: result %d is for case %d, want %d", who, i, res.N, list.Cases[i].N)
		}
		c := file.Cases[res.N]
		want := []wireEvent{}
		for _, e := range c.Events {
			want = append(want, wireEvent{Type: e.Type, ID: e.ID, Data: e.Data})
		}
		got := res.Events
		if got == nil {
			got = []wireEvent{}
		}
		if c.FromWPT() {
			wpt++
		}
		if reflect.DeepEqual(got, want) {
			pass++
			continue
		}
		if d, ok := knownDeviations[who][c.Name]; ok && reflect.DeepEqual(got, d.got) {
			deviating++
			seenDeviation[c.Name] = true
			t.Logf("%s: case %s: known deviation from the spec: %s", who, c.Name, d.why)
			continue
		}
		t.Errorf("%s: case %s (%s): the browser dispatched\n  %+q\ncases.json expects\n  %+q", who, c.Name, c.Source, got, want)
	}
	for name := range knownDeviations[who] {
		if !seenDeviation[name] {
			t.Errorf("%s: the known deviation on case %s is gone: update knownDeviations", who, name)
		}
	}
	mu.Lock()
	for n, k := range served {
		if k != 1 {
			t.Errorf("%s: case %s was requested %d times", who, file.Cases[n].Name, k)
		}
	}
	mu.Unlock()
	t.Logf("%s (%s): %d/%d of the cases a fresh EventSource can take (%d of %d from WPT; %d skipped: initial last event ID or our size limit) dispatch exactly the expected events, %d are known deviations of the browser, in %.0f ms; whole test %v",
		who, rep.UserAgent, pass, len(list.Cases), wpt, file.WPTCases, len(file.Cases)-len(list.Cases), deviating, rep.Millis, time.Since(start).Round(time.Millisecond))
}

// TestCasesMatchChromiumEventSource holds cases.json to Chromium's own
// EventSource.
func TestCasesMatchChromiumEventSource(t *testing.T) {
	browsertest.ChromiumPath(t)
	runCasesInEventSource(t, "Chromium EventSource", func(pageURL string) {
		ctx := browsertest.Chromium(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("chromium: open %s: %v", pageURL, err)
		}
	}, loadCases(t))
}

// TestCasesMatchFirefoxEventSource holds cases.json to Firefox's own
// EventSource.
func TestCasesMatchFirefoxEventSource(t *testing.T) {
	browsertest.FirefoxPath(t)
	runCasesInEventSource(t, "Firefox EventSource", func(pageURL string) {
		browsertest.Firefox(t, pageURL)
	}, loadCases(t))
}
