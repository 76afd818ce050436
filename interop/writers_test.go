package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/app"
	hertzserver "github.com/cloudwego/hertz/pkg/app/server"
	"github.com/cloudwego/hertz/pkg/common/hlog"
	"github.com/cloudwego/hertz/pkg/protocol/sse"
	contrib "github.com/hertz-contrib/sse"

	"qrsync/eventsource"
)

// writerCase is one stream written by another library's SSE writer, and
// what a WHATWG reader must get from it.
type writerCase struct {
	name string
	// hertz or contrib writes the stream (one of them is set).
	hertz   func(w *sse.Writer) error
	contrib func(s *contrib.Stream) error
	want    []wireEvent
	// wantLastID and wantRetry are the stream's last event ID and retry
	// at its end (0: no retry field).
	wantLastID string
	wantRetry  time.Duration
	// lossy says why want differs from what the program handed the
	// writer, when the writer cannot carry it.
	lossy string
}

// trickyData exercises the UTF-8 path: multi-byte runes, a BOM, line and
// paragraph separators, NEL (not a line end in SSE), NUL, a replacement
// character.
const trickyData = "日本語 🎉 é ü\u2028\u2029\u0085 BOM:\uFEFF NUL:\u0000 FFFD:\uFFFD"

// bigData is an event far larger than any read buffer, with multi-byte
// runes that fall across reads.
var bigData = strings.Repeat("é日🎉 0123456789 ", 12000) + "\n" + strings.Repeat("x", 70000)

func manyEvents() (want []wireEvent) {
	for i := 1; i <= 300; i++ {
		want = append(want, wireEvent{Type: "tick", ID: strconv.Itoa(i), Data: `{"n":` + strconv.Itoa(i) + `}`})
	}
	return want
}

func hertzCases() []writerCase {
	ev := func(id, typ, data string) *sse.Event {
		e := &sse.Event{ID: id, Type: typ}
		e.SetDataString(data)
		return e
	}
	return []writerCase{{
		name: "event with id, type and retry",
		hertz: func(w *sse.Writer) error {
			e := ev("1", "snapshot", `{"images":[],"expiresAt":"2030-01-01T00:00:00Z"}`)
			e.SetRetry(1500 * time.Millisecond)
			return w.Write(e)
		},
		want:       []wireEvent{{"snapshot", "1", `{"images":[],"expiresAt":"2030-01-01T00:00:00Z"}`}},
		wantLastID: "1", wantRetry: 1500 * time.Millisecond,
	}, {
		name: "multi-line data and empty lines in data",
		hertz: func(w *sse.Writer) error {
			if err := w.Write(ev("2", "image", "line one\nline two\nline three")); err != nil {
				return err
			}
			return w.Write(ev("3", "", "\nfirst after an empty line\n\n\nlast"))
		},
		want: []wireEvent{
			{"image", "2", "line one\nline two\nline three"},
			{"message", "3", "\nfirst after an empty line\n\n\nlast"},
		},
		wantLastID: "3",
	}, {
		name: "spaces, colons and field names inside data",
		hertz: func(w *sse.Writer) error {
			return w.Write(ev("4", "x", "  two spaces\n\ttab \n \n:not a comment\nid: not an id\nevent: nope\ndata: nested\nretry: 1"))
		},
		want:       []wireEvent{{"x", "4", "  two spaces\n\ttab \n \n:not a comment\nid: not an id\nevent: nope\ndata: nested\nretry: 1"}},
		wantLastID: "4",
	}, {
		name: "unicode in data, id and type",
		hertz: func(w *sse.Writer) error {
			return w.Write(ev("é-🎉-5", "ünïcödé", trickyData))
		},
		want:       []wireEvent{{"ünïcödé", "é-🎉-5", trickyData}},
		wantLastID: "é-🎉-5",
	}, {
		name: "ids carry over, and an empty id resets",
		hertz: func(w *sse.Writer) error {
			e3 := ev("", "", "3")
			e3.SetID("")
			for _, e := range []*sse.Event{ev("a", "", "1"), ev("", "", "2"), e3, ev("", "", "4")} {
				if err := w.Write(e); err != nil {
					return err
				}
			}
			return nil
		},
		want:       []wireEvent{{"message", "a", "1"}, {"message", "a", "2"}, {"message", "", "3"}, {"message", "", "4"}},
		wantLastID: "",
	}, {
		name: "blocks without data set the id and retry but dispatch nothing",
		hertz: func(w *sse.Writer) error {
			idOnly := &sse.Event{}
			idOnly.SetID("x")
			retryOnly := &sse.Event{}
			retryOnly.SetRetry(3 * time.Second)
			typeOnly := &sse.Event{}
			typeOnly.SetEvent("ignored")
			for _, e := range []*sse.Event{idOnly, retryOnly, typeOnly, ev("", "", "after")} {
				if err := w.Write(e); err != nil {
					return err
				}
			}
			return nil
		},
		want:       []wireEvent{{"message", "x", "after"}},
		wantLastID: "x", wantRetry: 3 * time.Second,
	}, {
		name: "comments and keep-alives are skipped",
		hertz: func(w *sse.Writer) error {
			for _, f := range []func() error{
				func() error { return w.WriteComment("a comment\nover two lines\r\nand three") },
				w.WriteKeepAlive,
				func() error { return w.WriteEvent("c1", "message", []byte("after comments")) },
				w.WriteKeepAlive,
				func() error { return w.WriteEvent("", "", []byte("between")) },
				func() error { return w.WriteComment("trailing") },
			} {
				if err := f(); err != nil {
					return err
				}
			}
			return nil
		},
		want:       []wireEvent{{"message", "c1", "after comments"}, {"message", "c1", "between"}},
		wantLastID: "c1",
	}, {
		name: "an empty comment",
		hertz: func(w *sse.Writer) error {
			if err := w.WriteEvent("1", "", []byte("before")); err != nil {
				return err
			}
			if err := w.WriteComment(""); err != nil {
				return err
			}
			return w.WriteEvent("2", "image", []byte("x"))
		},
		want:       []wireEvent{{"message", "1", "before"}, {"image", "1", "x"}},
		wantLastID: "1",
		lossy:      `a Hertz bug: WriteComment("") writes ":" with no line end, so the next line joins the comment (":id: 2") and the next event loses its id`,
	}, {
		name: "CR and CRLF in data",
		hertz: func(w *sse.Writer) error {
			return w.Write(ev("cr", "", "a\r\nb\rc\n\rd"))
		},
		want:       []wireEvent{{"message", "cr", "a\nb\nc\n\nd"}},
		wantLastID: "cr",
		lossy:      "SSE cannot carry a CR in data: the writer ends a data line at each CR, LF or CRLF, and a reader joins them with LF",
	}, {
		name: "data ending with a line feed",
		hertz: func(w *sse.Writer) error {
			if err := w.Write(ev("", "", "ends with LF\n")); err != nil {
				return err
			}
			return w.Write(ev("", "", "\n\n"))
		},
		want:  []wireEvent{{"message", "", "ends with LF"}, {"message", "", "\n"}},
		lossy: `Hertz's Writer drops a final line end: "x\n" goes out as one data line ("data: x"), not two ("data: x", "data: "), so the reader gets "x"`,
	}, {
		name: "a large event",
		hertz: func(w *sse.Writer) error {
			return w.Write(ev("big", "big", bigData))
		},
		want:       []wireEvent{{"big", "big", bigData}},
		wantLastID: "big",
	}, {
		name: "many events",
		hertz: func(w *sse.Writer) error {
			for _, e := range manyEvents() {
				if err := w.WriteEvent(e.ID, e.Type, []byte(e.Data)); err != nil {
					return err
				}
			}
			return nil
		},
		want:       manyEvents(),
		wantLastID: "300",
	}}
}

func contribCases() []writerCase {
	pub := func(s *contrib.Stream, evs ...*contrib.Event) error {
		for _, e := range evs {
			if err := s.Publish(e); err != nil {
				return err
			}
		}
		return nil
	}
	return []writerCase{{
		name: "event with id, type and retry",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "1", Event: "snapshot", Retry: 1500, Data: []byte(`{"images":[],"expiresAt":"2030-01-01T00:00:00Z"}`)})
		},
		want:       []wireEvent{{"snapshot", "1", `{"images":[],"expiresAt":"2030-01-01T00:00:00Z"}`}},
		wantLastID: "1", wantRetry: 1500 * time.Millisecond,
	}, {
		name: "multi-line data and empty lines in data",
		contrib: func(s *contrib.Stream) error {
			return pub(s,
				&contrib.Event{ID: "2", Event: "image", Data: []byte("line one\nline two\nline three")},
				&contrib.Event{ID: "3", Data: []byte("\nfirst after an empty line\n\n\nlast")})
		},
		want: []wireEvent{
			{"image", "2", "line one\nline two\nline three"},
			{"message", "3", "\nfirst after an empty line\n\n\nlast"},
		},
		wantLastID: "3",
	}, {
		name: "colons and field names inside data",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "4", Event: "x", Data: []byte(":not a comment\nid: not an id\nevent: nope\ndata: nested\nretry: 1\ttab")})
		},
		want:       []wireEvent{{"x", "4", ":not a comment\nid: not an id\nevent: nope\ndata: nested\nretry: 1\ttab"}},
		wantLastID: "4",
	}, {
		name: "unicode in data, id and type",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "é-🎉-5", Event: "ünïcödé", Data: []byte(trickyData)})
		},
		want:       []wireEvent{{"ünïcödé", "é-🎉-5", trickyData}},
		wantLastID: "é-🎉-5",
	}, {
		name: "ids carry over",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "a", Data: []byte("1")}, &contrib.Event{Data: []byte("2")})
		},
		want:       []wireEvent{{"message", "a", "1"}, {"message", "a", "2"}},
		wantLastID: "a",
	}, {
		name: "empty data and data ending with a line feed",
		contrib: func(s *contrib.Stream) error {
			return pub(s,
				&contrib.Event{ID: "e"},
				&contrib.Event{Data: []byte("ends with LF\n")},
				&contrib.Event{Data: []byte("\n\n")})
		},
		// contrib always writes a data field, so these all arrive.
		want:       []wireEvent{{"message", "e", ""}, {"message", "e", "ends with LF\n"}, {"message", "e", "\n\n"}},
		wantLastID: "e",
	}, {
		name: "retry alone",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{Retry: 3000})
		},
		want:      []wireEvent{{"message", "", ""}},
		wantRetry: 3 * time.Second,
		lossy:     `contrib writes a data field in every event, so a retry alone ("retry:3000", "data:") also dispatches an empty message`,
	}, {
		name: "leading spaces in data",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "sp", Data: []byte(" one space\n  two spaces")})
		},
		want:       []wireEvent{{"message", "sp", "one space\n two spaces"}},
		wantLastID: "sp",
		lossy:      `contrib writes "data:" with no space before the value, so the reader takes a leading space of each line as the optional one and drops it`,
	}, {
		name: "CR and LF in data and id",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "a\nb", Data: []byte("a\r\nb\rc")})
		},
		want:       []wireEvent{{"message", `a\nb`, `a\r` + "\n" + `b\rc`}},
		wantLastID: `a\nb`,
		lossy:      `contrib escapes CR in data, and CR and LF in an id, as the two characters \r and \n`,
	}, {
		name: "a large event",
		contrib: func(s *contrib.Stream) error {
			return pub(s, &contrib.Event{ID: "big", Event: "big", Data: []byte(bigData)})
		},
		want:       []wireEvent{{"big", "big", bigData}},
		wantLastID: "big",
	}, {
		name: "many events",
		contrib: func(s *contrib.Stream) error {
			for _, e := range manyEvents() {
				if err := s.Publish(&contrib.Event{ID: e.ID, Event: e.Type, Data: []byte(e.Data)}); err != nil {
					return err
				}
			}
			return nil
		},
		want:       manyEvents(),
		wantLastID: "300",
	}}
}

// startWriterServer runs a Hertz server on loopback whose /hertz/N and
// /contrib/N write case N with that library.
func startWriterServer(t *testing.T, hc, cc []writerCase) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hlog.SetLevel(hlog.LevelWarn) // as the qrsync server does
	h := hertzserver.New(hertzserver.WithListener(ln), hertzserver.WithDisablePrintRoute(true),
		hertzserver.WithExitWaitTime(time.Second), hertzserver.WithSenseClientDisconnection(true))
	pick := func(c *app.RequestContext, cases []writerCase) (writerCase, bool) {
		i, err := strconv.Atoi(c.Param("n"))
		if err != nil || i < 0 || i >= len(cases) {
			c.SetStatusCode(http.StatusNotFound)
			return writerCase{}, false
		}
		return cases[i], true
	}
	h.GET("/hertz/:n", func(_ context.Context, c *app.RequestContext) {
		wc, ok := pick(c, hc)
		if !ok {
			return
		}
		w := sse.NewWriter(c)
		defer w.Close()
		if err := wc.hertz(w); err != nil {
			t.Errorf("hertz writer, %s: %v", wc.name, err)
		}
	})
	h.GET("/contrib/:n", func(_ context.Context, c *app.RequestContext) {
		wc, ok := pick(c, cc)
		if !ok {
			return
		}
		if err := wc.contrib(contrib.NewStream(c)); err != nil {
			t.Errorf("contrib writer, %s: %v", wc.name, err)
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- h.Run() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-errc
	})
	base := "http://" + ln.Addr().String()
	// Wait until it answers.
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("writer server never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base
}

// TestDecoderReadsOtherWriters is the other direction: eventsource.Decoder
// reads streams written by Hertz's sse.Writer and by hertz-contrib/sse's
// Stream, served by Hertz over loopback, and gets exactly what was written.
func TestDecoderReadsOtherWriters(t *testing.T) {
	hc, cc := hertzCases(), contribCases()
	base := startWriterServer(t, hc, cc)
	run := func(lib string, cases []writerCase) {
		for i, wc := range cases {
			t.Run(lib+"/"+wc.name, func(t *testing.T) {
				resp, err := http.Get(fmt.Sprintf("%s/%s/%d", base, lib, i))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
					t.Fatalf("answer %d %q", resp.StatusCode, ct)
				}
				var raw bytes.Buffer
				d := eventsource.NewDecoder(io.TeeReader(resp.Body, &raw))
				got := []wireEvent{}
				for {
					ev, err := d.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("after %d events: %v", len(got), err)
					}
					got = append(got, wireEvent{Type: ev.Type, ID: ev.ID, Data: ev.Data})
				}
				retry, hasRetry := d.Retry()
				if !hasRetry {
					retry = 0
				}
				if !reflect.DeepEqual(got, wc.want) || d.LastEventID() != wc.wantLastID || retry != wc.wantRetry {
					wire := raw.String()
					if len(wire) > 2000 {
						wire = wire[:2000] + "…"
					}
					t.Errorf("got %d events %q, last id %q, retry %v\nwant %d events %q, last id %q, retry %v\nwire: %q",
						len(got), clip(got), d.LastEventID(), retry, len(wc.want), clip(wc.want), wc.wantLastID, wc.wantRetry, wire)
				}
				if wc.lossy != "" {
					t.Logf("the writer cannot carry this as given: %s", wc.lossy)
				}
			})
		}
	}
	run("hertz", hc)
	run("contrib", cc)
}

// clip shortens a list of events for a failure message.
func clip(evs []wireEvent) []wireEvent {
	out := make([]wireEvent, 0, min(len(evs), 5))
	for i, e := range evs {
		if i == 5 {
			break
		}
		if len(e.Data) > 200 {
			e.Data = e.Data[:200] + "…"
		}
		out = append(out, e)
	}
	return out
}
