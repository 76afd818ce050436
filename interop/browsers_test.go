//go:build unix

package interop

import (
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"qrsync/internal/browsertest"
)

// maxReconnectDelay bounds how long after a drop a browser may reconnect:
// well under Chromium's default of 3 s and Firefox's of 5 s, so a reconnect
// in time shows that the stream's retry field was obeyed.
const maxReconnectDelay = 2500 * time.Millisecond

// esReport is what events.js posts at the end.
type esReport struct {
	UserAgent string      `json:"userAgent"`
	Events    []wireEvent `json:"events"`
	States    []string    `json:"states"`
}

// wantStates is the EventSource's life in the scenario: open, dropped and
// reconnecting, open again, ended by the server and reconnecting, then
// closed for good by the 410.
var wantStates = []string{"open", "reconnecting", "open", "reconnecting", "closed"}

// runBrowser plays the scenario against a browser's EventSource: launch
// opens the given page URL in it.
func runBrowser(t *testing.T, who string, launch func(pageURL string)) {
	start := time.Now()
	sc := newScenario(t)
	ps := newPageServer(t, map[string]string{
		"/events.html": "testdata/events.html",
		"/events.js":   "testdata/events.js",
	}, sc.tap.Base())
	// The reconnect is held until the photo it must replay is stored.
	ps.gate(2)
	events := func() int { return len(ps.postsTo("/event")) }

	launched := time.Now()
	launch(ps.URL() + "/events.html?events=" + url.QueryEscape(sc.sess.EventsURL))
	ps.waitFor("the snapshot", waitLaunch, func() bool { return events() >= 1 })
	firstEvent := time.Now()
	sc.live()
	ps.waitFor("two images and a removal", waitLong, func() bool { return events() >= 4 })

	cutAt := time.Now()
	sc.tap.cut()
	ps.waitFor("the reconnect", waitLong, func() bool { return len(ps.requests()) >= 2 })
	delay := ps.requests()[1].At.Sub(cutAt)
	sc.away()
	ps.release(2)
	ps.waitFor("the replayed image", waitLong, func() bool { return events() >= 5 })

	sc.end()
	var rep esReport
	ps.waitReport(waitLong, &rep)
	// A closed EventSource must stay closed: no attempt after the 410.
	time.Sleep(4 * streamRetry)
	reqs := ps.requests()

	v := sc.verify(who, rep.Events)

	// What the page posted one by one is what it reported at the end (the
	// posts may still be on their way).
	ps.waitFor("the last event posts", waitLong, func() bool { return events() >= len(rep.Events) })
	var posted []wireEvent
	var seqs []int
	bySeq := map[int]wireEvent{}
	for _, raw := range ps.postsTo("/event") {
		var p struct {
			Seq   int       `json:"seq"`
			Event wireEvent `json:"event"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, p.Seq)
		bySeq[p.Seq] = p.Event
	}
	sort.Ints(seqs)
	for _, s := range seqs {
		posted = append(posted, bySeq[s])
	}
	if !reflect.DeepEqual(posted, rep.Events) {
		t.Errorf("%s: posted events %v differ from the report %v", who, posted, rep.Events)
	}
	if !reflect.DeepEqual(rep.States, wantStates) {
		t.Errorf("%s: EventSource states %q, want %q", who, rep.States, wantStates)
	}
	if len(reqs) != 3 {
		t.Errorf("%s: %d requests for the stream, want 3: %+v", who, len(reqs), reqs)
	} else if reqs[1].LastEventID != v.ReconnectID {
		t.Errorf("%s: the proxy saw Last-Event-ID %q, the tap %q", who, reqs[1].LastEventID, v.ReconnectID)
	}
	if delay < streamRetry/2 || delay > maxReconnectDelay {
		t.Errorf("%s: reconnected %v after the drop; the stream's retry is %v", who, delay, streamRetry)
	}
	t.Logf("%s (%s):\n  %d events, same type, lastEventId and data bytes as eventsource.Decoder on the same %d bytes; %d requests: statuses %v\n  reconnected %v after the drop (retry %v) with Last-Event-ID %q; closed on %d; states %v\n  launch→first event %v, whole test %v",
		who, rep.UserAgent, v.Events, v.WireBytes, len(reqs), statuses(reqs), delay.Round(time.Millisecond), streamRetry,
		v.ReconnectID, v.EndStatus, rep.States, firstEvent.Sub(launched).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func statuses(reqs []proxied) []int {
	var s []int
	for _, r := range reqs {
		s = append(s, r.Status)
	}
	return s
}

// TestChromiumEventSource reads the stream with headless Chromium's own
// EventSource.
func TestChromiumEventSource(t *testing.T) {
	browsertest.ChromiumPath(t) // fail at once if it is missing
	runBrowser(t, "Chromium EventSource", func(pageURL string) {
		ctx := browsertest.Chromium(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
			t.Fatalf("chromium: open %s: %v", pageURL, err)
		}
	})
}

// TestFirefoxEventSource reads the stream with headless Firefox ESR's own
// EventSource.
func TestFirefoxEventSource(t *testing.T) {
	browsertest.FirefoxPath(t) // fail at once if it is missing
	var ff *browsertest.Browser
	runBrowser(t, "Firefox EventSource", func(pageURL string) {
		ff = browsertest.Firefox(t, pageURL)
	})
	stop := time.Now()
	ff.Stop()
	t.Logf("firefox (pid %d) and its children gone %v after SIGTERM", ff.PID(), time.Since(stop).Round(time.Millisecond))
}
