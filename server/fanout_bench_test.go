//go:build linux

package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
)

// BenchmarkFanOut measures one session's event stream with many viewers:
// 1,000 and 5,000 subscribers (1,000 only with -short) on the real
// GET /api/sessions/{id}/events, over real loopback connections, while
// events are published at 10 a second for 10 s (5 s with -short). An
// event is published the way a phone makes one: the upload of a small
// photo (24×16, apptest.Photo) to POST /api/upload/{token}; every stream
// then sends its image event. (Such an upload lands well within
// firstNewsAfter, so it makes no upload news: news-per-delivery shows it.)
// The reference is a bare net/http SSE hub written below: a map of
// subscriber channels, each subscriber's handler goroutine writing what
// comes and flushing; POST /publish hands it the same image event, with
// the same JSON, for each publish. Same subscribers, same publisher pace.
//
// Both servers run as child processes of the benchmark (benchchild_test.go),
// their data on tmpfs; subscribers and publisher are in the benchmark's
// own process. Each subscriber is a raw TCP connection read into a 2 KiB
// buffer by one goroutine, which looks for the "event: image" line and
// notes the time of the read that brought it, and counts upload news.
//
// Reported (qrsync's; the reference's as bare-*; qrsync/bare as x-bare-*,
// for which the goal is at most 1.1):
//
//	p50-ms, p99-ms  publish → deliver latency of the image event, over
//	                every (subscriber, event) pair: from just before the
//	                publisher sends its POST to the return of the
//	                subscriber's read that holds the event. It includes
//	                the publish request (for qrsync, the whole upload:
//	                decode, thumbnail, storage, catalog) and the client's
//	                own scheduling.
//	p1-ms           the fastest 1% of those: about when the first
//	                viewers have the event, so mostly the publish's own
//	                path; p50 minus it is mostly the fan-out's spread.
//	cpu-ms/event    the server process's CPU (user+sys, all threads, from
//	                /proc/PID/stat, 10 ms resolution) from the first
//	                measured publish until every subscriber has every
//	                image event, per publish: taking the publish and
//	                delivering both its messages to every subscriber. The
//	                clients' CPU is not in it.
//	publish-cpu-ms  the server process's CPU per publish when nobody
//	                watches (20 publishes before anyone subscribes): the
//	                publish's own cost, which is in cpu-ms/event too.
//	                cpu-ms/event minus this is the fan-out's.
//	client-cpu-ms/event  the benchmark process's own CPU (getrusage) in the
//	                measured window: subscribers and publisher, to show
//	                how much of the 2 cores the clients take.
//	publish-ms      median time the publish POST takes to be answered.
//	news-per-delivery  upload events a subscriber got per image event.
//	lost-events     (subscriber, event) pairs not delivered within 30 s of
//	                the last publish; the latencies leave them out.
//
// Five publishes (their delivery awaited) come before the measured ones.
func BenchmarkFanOut(b *testing.B) {
	sizes := []int{1000, 5000}
	events := 100
	if testing.Short() {
		sizes, events = sizes[:1], 50
	}
	// The children inherit the limit: each side needs a descriptor a
	// subscriber.
	raiseFileLimit(b, uint64(slices.Max(sizes))+1000)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			var q, bare fanOutResult
			for b.Loop() {
				q.add(runFanOut(b, childQrsync, n, events, nil))
				bare.add(runFanOut(b, childBareHub, n, events, q.payload))
			}
			b.ReportMetric(0, "ns/op")
			q.report(b, "")
			bare.report(b, "bare-")
			b.ReportMetric(benchRatio(q.p(50), bare.p(50)), "x-bare-p50")
			b.ReportMetric(benchRatio(q.p(99), bare.p(99)), "x-bare-p99")
			b.ReportMetric(benchRatio(q.cpuPerEvent(), bare.cpuPerEvent()), "x-bare-cpu")
		})
	}
}

// fanOutAlone publishes go out before anyone subscribes, fanOutWarmup
// after, before the measured ones; fanOutEvery is the publisher's pace.
const (
	fanOutAlone  = 20
	fanOutWarmup = 5
	fanOutEvery  = 100 * time.Millisecond
)

// fanOutMarker is the line every published event carries, on both sides;
// fanOutNews that of upload news.
var (
	fanOutMarker = []byte("event: image\n")
	fanOutNews   = []byte("event: upload\n")
)

// fanOutResult is what one or more rounds of one side measured.
type fanOutResult struct {
	latencies []time.Duration // one per (subscriber, event) delivered
	publish   []time.Duration // one per publish request
	serverCPU time.Duration
	clientCPU time.Duration
	events    int
	aloneCPU  time.Duration // server CPU of the publishes nobody watched
	alone     int
	lost      int
	news      int    // upload events the subscribers got
	delivered int    // image events the subscribers got
	payload   []byte // what qrsync sent for a photo: see fanOutPayload
}

func (r *fanOutResult) add(o fanOutResult) {
	r.latencies = append(r.latencies, o.latencies...)
	r.publish = append(r.publish, o.publish...)
	r.serverCPU += o.serverCPU
	r.clientCPU += o.clientCPU
	r.events += o.events
	r.aloneCPU += o.aloneCPU
	r.alone += o.alone
	r.lost += o.lost
	r.news += o.news
	r.delivered += o.delivered
	if r.payload == nil {
		r.payload = o.payload
	}
}

// p is the q-th percentile latency in ms.
func (r *fanOutResult) p(q int) float64 { return percentileMS(r.latencies, q) }

func (r *fanOutResult) cpuPerEvent() float64 {
	return float64(r.serverCPU) / float64(time.Millisecond) / float64(r.events)
}

func (r *fanOutResult) report(b *testing.B, prefix string) {
	b.ReportMetric(r.p(1), prefix+"p1-ms")
	b.ReportMetric(r.p(50), prefix+"p50-ms")
	b.ReportMetric(r.p(99), prefix+"p99-ms")
	b.ReportMetric(r.cpuPerEvent(), prefix+"cpu-ms/event")
	b.ReportMetric(float64(r.clientCPU)/float64(time.Millisecond)/float64(r.events), prefix+"client-cpu-ms/event")
	b.ReportMetric(percentileMS(r.publish, 50), prefix+"publish-ms")
	b.ReportMetric(float64(r.aloneCPU)/float64(time.Millisecond)/float64(r.alone), prefix+"publish-cpu-ms")
	b.ReportMetric(float64(r.lost), prefix+"lost-events")
	b.ReportMetric(benchRatio(float64(r.news), float64(r.delivered)), prefix+"news-per-delivery")
}

func benchRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// runFanOut runs one round on one side: a child server of kind, first
// fanOutAlone publishes with nobody watching (their server CPU is the
// publish's own cost), then n subscribers, fanOutWarmup publishes and the
// events measured. payload is what the bare hub is given to publish (the
// news and the image event qrsync sent; qrsync's round returns it).
func runFanOut(b *testing.B, kind string, n, events int, payload []byte) fanOutResult {
	b.Helper()
	child := startBenchChild(b, kind)
	defer child.stop()
	addr := strings.TrimPrefix(child.Base, "http://")
	pub := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer pub.CloseIdleConnections()
	total := fanOutWarmup + events
	var res fanOutResult

	var eventsPath string
	var publish func(k int) error
	switch kind {
	case childQrsync:
		qc := apptest.NewClient(b, child.Base)
		s := qc.NewSession()
		eventsPath = s.EventsURL
		photos := make([][]byte, fanOutAlone+total)
		names := make([]string, len(photos))
		for i := range photos {
			names[i], photos[i] = apptest.Photo(b, i)
		}
		publish = func(k int) error {
			status, body, err := qc.Upload(s, names[k], photos[k])
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("upload: %d %s", status, body)
			}
			if err == nil && res.payload == nil {
				res.payload, err = fanOutPayload(s.ID, body)
			}
			return err
		}
	default:
		eventsPath = "/events"
		publish = func(int) error {
			_, err := fanOutPost(pub, child.Base+"/publish", "application/json", payload, http.StatusNoContent)
			return err
		}
	}
	// sent[k] is when publish k began, since epoch.
	epoch := time.Now()
	sent := make([]time.Duration, fanOutAlone+total)
	run := func(from, to int) {
		first := time.Now()
		for k := from; k < to; k++ {
			time.Sleep(time.Until(first.Add(time.Duration(k-from) * fanOutEvery)))
			sent[k] = time.Since(epoch)
			if err := publish(k); err != nil {
				b.Fatalf("%s: publish: %v", kind, err)
			}
			if k >= fanOutAlone+fanOutWarmup {
				res.publish = append(res.publish, time.Since(epoch)-sent[k])
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	cpu0 := child.cpu()
	run(0, fanOutAlone)
	res.aloneCPU = child.cpu() - cpu0
	res.alone = fanOutAlone

	var delivered atomic.Int64
	subs := make([]*sseSub, n)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64) // dials at once, well within the backlog
	for i := range subs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := dialSSE(addr, eventsPath, total)
			if err != nil {
				errs <- err
				return
			}
			subs[i] = s
		}()
	}
	wg.Wait()
	close(errs)
	var readers sync.WaitGroup
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.conn.Close()
			}
		}
		readers.Wait()
	}()
	if err := <-errs; err != nil {
		b.Fatalf("%s: subscribe: %v", kind, err)
	}
	for _, s := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s.read(epoch, &delivered)
		}()
	}
	b.Logf("%s: %d subscribers connected in %v", kind, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // let them all settle into waiting

	waitAll := func(k int, within time.Duration) bool {
		deadline := time.Now().Add(within)
		for delivered.Load() < int64(k*n) {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(2 * time.Millisecond)
		}
		return true
	}
	run(fanOutAlone, fanOutAlone+fanOutWarmup)
	if !waitAll(fanOutWarmup, 30*time.Second) {
		b.Logf("%s: warm-up events not all delivered within 30s", kind)
	}

	cpu0, self0, t0 := child.cpu(), selfCPU(), time.Now()
	run(fanOutAlone+fanOutWarmup, fanOutAlone+total)
	if !waitAll(total, 30*time.Second) {
		b.Logf("%s: not every event delivered within 30s of the last publish", kind)
	}
	res.serverCPU, res.clientCPU = child.cpu()-cpu0, selfCPU()-self0
	b.Logf("%s: %d events published and delivered to %d subscribers in %v",
		kind, events, n, time.Since(t0).Round(time.Millisecond))
	res.events = events

	// Every reader is stopped before its arrivals are read.
	for _, s := range subs {
		s.conn.Close()
	}
	readers.Wait()
	res.latencies = make([]time.Duration, 0, n*events)
	for _, s := range subs {
		for k := fanOutWarmup; k < total; k++ {
			if s.arrived[k] == 0 {
				res.lost++
				continue
			}
			res.latencies = append(res.latencies, s.arrived[k]-sent[fanOutAlone+k])
		}
		if s.got > total {
			b.Errorf("%s: a subscriber got %d events; %d were published", kind, s.got, total)
		}
		res.news += s.news
		res.delivered += s.got
	}
	if res.lost > 0 {
		b.Logf("%s: %d of %d deliveries lost", kind, res.lost, n*events)
	}
	return res
}

// fanOutPost sends a POST and reads the answer, which must have status want.
func fanOutPost(c *http.Client, url, ctype string, body []byte, want int) ([]byte, error) {
	resp, err := c.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != want {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, got)
	}
	return got, err
}

// sseSub is one subscriber: a raw connection and when each event came.
type sseSub struct {
	conn    net.Conn
	rest    []byte          // read past the first message, not yet scanned
	arrived []time.Duration // since the epoch, per event; 0 for none yet
	got     int
	news    int // upload events
}

// dialSSE opens a stream and reads it up to the end of its first message
// (qrsync's snapshot, the hub's retry), which says it is live.
func dialSSE(addr, path string, events int) (*sseSub, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, addr)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var buf []byte
	chunk := make([]byte, 2048)
	for {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if h := bytes.Index(buf, []byte("\r\n\r\n")); h >= 0 {
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200")) {
				conn.Close()
				return nil, fmt.Errorf("answered %q", buf[:bytes.IndexByte(buf, '\r')])
			}
			if m := bytes.Index(buf[h+4:], []byte("\n\n")); m >= 0 {
				conn.SetReadDeadline(time.Time{})
				return &sseSub{conn: conn, rest: buf[h+4+m+2:], arrived: make([]time.Duration, events)}, nil
			}
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("before the first message: %v (read %q)", err, buf)
		}
	}
}

// read notes when each event arrives until the connection closes.
func (s *sseSub) read(epoch time.Time, delivered *atomic.Int64) {
	keep := max(len(fanOutMarker), len(fanOutNews)) - 1 // a marker split between two reads
	buf := make([]byte, max(2048+keep, len(s.rest)))
	n := copy(buf, s.rest)
	s.rest = nil
	var err error
	for have := 0; ; {
		have += n
		if n > 0 {
			now := time.Since(epoch)
			data := buf[:have]
			for {
				i := bytes.Index(data, fanOutMarker)
				if j := bytes.Index(data, fanOutNews); j >= 0 && (i < 0 || j < i) {
					s.news++
					data = data[j+len(fanOutNews):]
					continue
				}
				if i < 0 {
					break
				}
				if s.got < len(s.arrived) {
					s.arrived[s.got] = now
				}
				s.got++
				delivered.Add(1)
				data = data[i+len(fanOutMarker):]
			}
			have = copy(buf, data[max(0, len(data)-keep):])
		}
		if err != nil {
			return
		}
		n, err = s.conn.Read(buf[have:])
	}
}

// startBareHub serves the reference hub on a loopback port until t ends.
func startBareHub(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &bareHub{subs: map[chan []byte]struct{}{}}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// bareHub is the least an SSE fan-out can be: the events of one topic,
// handed to every subscriber's channel; each subscriber's handler
// goroutine writes them and flushes. No log, no replay, no ids kept.
type bareHub struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
	seq  int
}

func (h *bareHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		h.subscribe(w, r)
	case "/publish":
		h.publish(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *bareHub) subscribe(w http.ResponseWriter, r *http.Request) {
	ch := make(chan []byte, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	io.WriteString(w, "retry: 2000\n\n")
	fl.Flush()
	for {
		select {
		case msg := <-ch:
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// publish hands the message a photo's arrival makes to every subscriber:
// the image event, the body its data (see fanOutPayload). A subscriber 64
// messages behind misses it (the benchmark counts it lost).
func (h *bareHub) publish(w http.ResponseWriter, r *http.Request) {
	image, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.mu.Lock()
	h.seq++
	msg := fmt.Appendf(nil, "id: %d\nevent: image\ndata: %s\n\n", h.seq, bytes.TrimSpace(image))
	for ch := range h.subs {
		select {
		case ch <- msg:
		default:
		}
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// fanOutPayload is what a bare hub publishes for one photo: the data of
// the image event qrsync sends for it, made from its answer to the upload
// (which leaves out the URLs the event carries).
func fanOutPayload(sessionID string, answer []byte) ([]byte, error) {
	var res api.UploadResult
	if err := json.Unmarshal(answer, &res); err != nil || len(res.Images) != 1 {
		return nil, fmt.Errorf("upload answer %q: %v", answer, err)
	}
	img := res.Images[0]
	img.URL = api.ImagePath(sessionID, img.ID)
	img.ThumbURL, img.DisplayURL = img.URL+"/thumb", img.URL+"/display"
	return json.Marshal(img)
}
