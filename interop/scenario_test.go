package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/internal/apptest"
	"qrsync/server"
)

const (
	// streamRetry is the server's retry for these tests: short, so that
	// the browsers' reconnects are quick, and far below their own
	// defaults (3 s in Chromium, 5 s in Firefox), so that a reconnect in
	// time shows that the retry field was obeyed.
	streamRetry = 200 * time.Millisecond
	// streamKeepAlive makes keep-alive comments frequent, so that every
	// client meets them between and around events.
	streamKeepAlive = 100 * time.Millisecond
	// waitLong bounds every wait for something a client or the server is
	// about to do.
	waitLong = 20 * time.Second
	// waitLaunch bounds the wait for a browser's first report: starting
	// one on a fresh profile took over 20 s on a busy 2-core machine while
	// the other packages' tests ran beside it.
	waitLaunch = 90 * time.Second
	// photoDir holds the real photos, relative to this package.
	photoDir = "../../shared/testdata/images/orientation/"
)

// photos are uploaded in this order: the first before the client connects
// (it is in the snapshot), the next two while it listens (the second of
// them is then deleted), the last while it is disconnected (it must be
// replayed). Their names put multi-byte UTF-8 and JSON escapes into the
// event data: a raw no-break space, and <, &, U+2028, which JSON escapes.
// (A raw U+FEFF cannot come from a name: the server drops format
// characters from names; writers_test.go sends one in data.)
var photos = []struct{ file, name string }{
	{"Landscape_1.jpg", "Été à Ærø — 日本 📷.jpg"},
	{"Landscape_3.jpg", "<b>&amp; ü ø.jpg"},
	{"Landscape_6.jpg", "line\u2028sep\u00A0nbsp.jpg"},
	{"Landscape_8.jpg", "Ωμέγα 🎉.jpg"},
}

// wireEvent is one dispatched event as every client reports it: its type,
// the last event ID at dispatch (WHATWG lastEventId) and its data.
type wireEvent struct {
	Type string `json:"type"`
	ID   string `json:"lastEventId"`
	Data string `json:"data"`
}

func (e wireEvent) String() string {
	d := e.Data
	if len(d) > 60 {
		d = d[:60] + "…"
	}
	return fmt.Sprintf("{%s id=%q %q}", e.Type, e.ID, d)
}

// scenario is the real server, one session, and the story of DESIGN §4
// played against it.
type scenario struct {
	t    *testing.T
	app  *apptest.App
	tap  *tap
	sess api.Session
	// imgs are the uploaded images as GET /api/sessions/{id} lists them
	// (with url and thumbUrl), in upload order.
	imgs []api.Image
}

// newScenario starts the server, makes a session and uploads the first
// photo, so the first event a client sees is a snapshot holding it.
func newScenario(t *testing.T) *scenario {
	t.Helper()
	app := apptest.Start(t, server.Config{Retry: streamRetry, KeepAlive: streamKeepAlive})
	// Idle keep-alive connections of the API calls would hold the
	// server's graceful shutdown for its whole grace period: close them
	// first (cleanups run last-registered first).
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	sc := &scenario{t: t, app: app, tap: newTap(t, app.Addr)}
	sc.sess = app.NewSession()
	sc.upload(0)
	return sc
}

// eventsURL is the session's stream, reached through the recording tap.
func (sc *scenario) eventsURL() string { return sc.tap.Base() + sc.sess.EventsURL }

func (sc *scenario) upload(i int) {
	sc.t.Helper()
	data, err := os.ReadFile(filepath.Join(photoDir, photos[i].file))
	if err != nil {
		sc.t.Fatal(err)
	}
	img := sc.app.MustUpload(sc.sess, photos[i].name, data)
	if img.Name != photos[i].name {
		sc.t.Fatalf("uploaded %q, the server named it %q", photos[i].name, img.Name)
	}
	for _, g := range sc.gallery() {
		if g.ID == img.ID {
			sc.imgs = append(sc.imgs, g)
			return
		}
	}
	sc.t.Fatalf("image %s is not in the session after its upload", img.ID)
}

func (sc *scenario) gallery() []api.Image {
	sc.t.Helper()
	var s api.Session
	sc.do(http.MethodGet, sc.app.Base+"/api/sessions/"+sc.sess.ID, http.StatusOK, &s)
	return s.Images
}

func (sc *scenario) do(method, url string, want int, into any) {
	sc.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		sc.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		sc.t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, body, want)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			sc.t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// awaitComment waits until a keep-alive comment has gone out on the open
// stream, so that every client meets one between events.
func (sc *scenario) awaitComment() {
	sc.t.Helper()
	deadline := time.Now().Add(waitLong)
	for !sc.tap.sent([]byte("\n:")) {
		if time.Now().After(deadline) {
			sc.t.Fatal("no keep-alive comment on the stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// live is what happens while the client listens: two uploads and the
// deletion of the first of them.
func (sc *scenario) live() {
	sc.t.Helper()
	sc.awaitComment()
	sc.upload(1)
	sc.upload(2)
	sc.do(http.MethodDelete, sc.app.Base+sc.imgs[1].URL, http.StatusNoContent, nil)
}

// away is what happens while the client is disconnected: one upload, which
// it must get on reconnecting.
func (sc *scenario) away() {
	sc.t.Helper()
	sc.upload(3)
}

// end deletes the session: its streams get expired and are closed.
func (sc *scenario) end() {
	sc.t.Helper()
	sc.do(http.MethodDelete, sc.app.Base+"/api/sessions/"+sc.sess.ID, http.StatusNoContent, nil)
}

// wantedTypes is the order of events every client must see.
var wantedTypes = []string{api.EventSnapshot, api.EventImage, api.EventImage, api.EventRemoved, api.EventImage, api.EventExpired}

// idRE is the id alphabet of DESIGN §4.
var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// verdict is what verify established about one client, for the log.
type verdict struct {
	Events      int
	Streams     int
	WireBytes   int
	ReconnectID string
	EndStatus   int
}

// verify checks what a client reported against the recorded wire and the
// API. Every client makes three requests: the first connection (cut), the
// reconnect with Last-Event-ID (ended by the server after expired), and
// one more attempt after the end (browsers make it by themselves, the Go
// tests by hand), which must be answered 410 (the session ended).
func (sc *scenario) verify(who string, got []wireEvent) verdict {
	t := sc.t
	t.Helper()
	var v verdict
	var streams []exchange
	for _, ex := range sc.tap.exchanges() {
		if ex.Req.URL.Path != sc.sess.EventsURL {
			t.Errorf("%s: unexpected request through the tap: %s %s", who, ex.Req.Method, ex.Req.URL)
			continue
		}
		streams = append(streams, ex)
	}
	if len(streams) != 3 {
		for i, s := range streams {
			t.Logf("stream %d: %d cut=%v %q", i, s.Status, s.Cut, s.Body)
		}
		t.Fatalf("%s: %d requests for the stream, want 3 (first, reconnect, the one after the end)", who, len(streams))
	}
	v.Streams = len(streams)

	// The wire, decoded by our own decoder, connection after connection
	// as a reconnecting EventSource does (the last event ID carries over).
	var decoded []wireEvent
	d := eventsource.NewDecoder(nil)
	for i, s := range streams[:2] {
		if s.Status != http.StatusOK {
			t.Fatalf("%s: stream %d answered %d %q", who, i, s.Status, s.Body)
		}
		for h, want := range map[string]string{"Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
			if s.Header.Get(h) != want {
				t.Errorf("%s: stream %d: %s = %q, want %q", who, i, h, s.Header.Get(h), want)
			}
		}
		if ct := s.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
			t.Errorf("%s: stream %d: Content-Type %q", who, i, ct)
		}
		v.WireBytes += len(s.Body)
		d.Reset(bytes.NewReader(s.Body))
		for {
			ev, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: decoding stream %d: %v", who, i, err)
			}
			if ev.Type == skipNews {
				continue // live news, not the story (skipNews)
			}
			decoded = append(decoded, wireEvent{Type: ev.Type, ID: ev.ID, Data: ev.Data})
		}
		// DESIGN §4: the first message of every stream carries retry.
		first, _, _ := bytes.Cut(s.Body, []byte("\n\n"))
		fd := eventsource.NewDecoder(bytes.NewReader(append(first, "\n\n"...)))
		for _, err := fd.Next(); err == nil; _, err = fd.Next() {
		}
		if r, ok := fd.Retry(); !ok || r != streamRetry {
			t.Errorf("%s: stream %d: first message %q has retry %v %v, want %v", who, i, first, r, ok, streamRetry)
		}
	}
	// awaitComment made sure of a keep-alive comment between events.
	if !bytes.Contains(streams[0].Body, []byte("\n:")) {
		t.Errorf("%s: the first stream carried no comment", who)
	}
	if !streams[0].Cut {
		t.Errorf("%s: the first stream was not cut as planned", who)
	}
	if streams[1].Cut {
		t.Errorf("%s: the second stream did not end cleanly after expired", who)
	}

	// 1. The client saw exactly what our decoder sees on the same bytes.
	if !reflect.DeepEqual(got, decoded) {
		t.Errorf("%s saw %d events, our decoder %d on the same bytes:", who, len(got), len(decoded))
		for i := 0; i < max(len(got), len(decoded)); i++ {
			var g, w string
			if i < len(got) {
				g = fmt.Sprintf("%+q", got[i])
			}
			if i < len(decoded) {
				w = fmt.Sprintf("%+q", decoded[i])
			}
			mark := "  "
			if g != w {
				mark = "≠ "
			}
			t.Logf("%s%d\n   %s: %s\n   decoder: %s", mark, i, who, g, w)
		}
	}
	v.Events = len(got)

	// 2. Those events are what the API says happened.
	sc.checkStory(who, decoded)

	// 3. The reconnect resumed from the last event seen, and the attempt
	// after the end was refused for good.
	if h, q := streams[0].Req.Header.Get("Last-Event-ID"), streams[0].Req.URL.Query().Get("lastEventId"); h != "" || q != "" {
		t.Errorf("%s: first connection sent Last-Event-ID %q / %q", who, h, q)
	}
	if len(decoded) == len(wantedTypes) {
		v.ReconnectID = streams[1].Req.Header.Get("Last-Event-ID")
		if want := decoded[3].ID; v.ReconnectID != want {
			t.Errorf("%s: reconnected with Last-Event-ID %q, want %q (the removed event's)", who, v.ReconnectID, want)
		}
		if want := decoded[4].ID; streams[2].Req.Header.Get("Last-Event-ID") != want {
			t.Errorf("%s: the attempt after the end sent Last-Event-ID %q, want %q", who, streams[2].Req.Header.Get("Last-Event-ID"), want)
		}
	}
	v.EndStatus = streams[2].Status
	if v.EndStatus != http.StatusGone {
		t.Errorf("%s: the attempt after the end answered %d %q, want 410", who, v.EndStatus, streams[2].Body)
	}
	return v
}

// skipNews: the upload events a phone's file makes on its way are live
// news, sent as time allows and without an id. The story the clients are
// held to is the log's; the browsers' pages listen only for its types,
// and how every client treats an event without an id (it keeps the last
// one) is held to the cases in cases.json.
const skipNews = api.EventUpload

// checkStory checks the decoded events against what the API says happened.
func (sc *scenario) checkStory(who string, evs []wireEvent) {
	t := sc.t
	t.Helper()
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if !reflect.DeepEqual(types, wantedTypes) {
		t.Fatalf("%s: event types %q, want %q", who, types, wantedTypes)
	}
	a, b, c, dd := sc.imgs[0], sc.imgs[1], sc.imgs[2], sc.imgs[3]

	var snap api.Snapshot
	unmarshal(t, evs[0].Data, &snap)
	if want := (api.Snapshot{Images: []api.Image{a}, ExpiresAt: sc.sess.ExpiresAt}); !sameJSON(t, snap, want) {
		t.Errorf("%s: snapshot %s, want images [%s] expiring %v", who, evs[0].Data, a.ID, sc.sess.ExpiresAt)
	}
	for i, want := range map[int]api.Image{1: b, 2: c, 4: dd} {
		var got api.Image
		unmarshal(t, evs[i].Data, &got)
		if !sameJSON(t, got, want) {
			t.Errorf("%s: event %d: image %s, want %+v", who, i, evs[i].Data, want)
		}
	}
	var rm api.Removed
	unmarshal(t, evs[3].Data, &rm)
	if rm.ID != b.ID {
		t.Errorf("%s: removed %s, want %s", who, evs[3].Data, b.ID)
	}
	if evs[5].Data != "{}" || evs[5].ID != evs[4].ID {
		t.Errorf("%s: expired event %v: want data {} and the last id %q carried over", who, evs[5], evs[4].ID)
	}
	// Every event but expired carries an id: distinct, of the id
	// alphabet, increasing (the embedded catalog's ids are numbers).
	prev := int64(-1)
	for i, e := range evs[:5] {
		if !idRE.MatchString(e.ID) {
			t.Errorf("%s: event %d has id %q", who, i, e.ID)
			continue
		}
		n, err := strconv.ParseInt(e.ID, 10, 64)
		if err != nil || n <= prev {
			t.Errorf("%s: event %d: id %q does not follow %d", who, i, e.ID, prev)
		}
		prev = n
	}
}

func unmarshal(t testing.TB, data string, into any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Errorf("data %q: %v", data, err)
	}
}

// sameJSON compares two values by their JSON, which is what crossed the
// wire (time.Time values compare by instant and zone name otherwise).
func sameJSON(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ja, jb)
}

// collector gathers a client's events as they arrive, for the test to wait
// on.
type collector struct {
	mu      sync.Mutex
	events  []wireEvent
	retries []time.Duration
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) add(e wireEvent) {
	if e.Type == skipNews {
		return // live news, not the story (skipNews)
	}
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) retry(d time.Duration) {
	c.mu.Lock()
	c.retries = append(c.retries, d)
	c.mu.Unlock()
}

// list returns a copy of the events so far.
func (c *collector) list() []wireEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wireEvent(nil), c.events...)
}

// wait returns once n events have arrived, or fails t.
func (c *collector) wait(t testing.TB, n int, what string) []wireEvent {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		if evs := c.list(); len(evs) >= n {
			return evs
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("waiting for %s: %d events after %v, want %d: %v", what, len(c.list()), waitLong, n, c.list())
		}
	}
}
