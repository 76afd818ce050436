package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"qrsync/storage"
)

// A viewer that stops reading is cut off after the stream's write timeout
// instead of pinning its stream forever.
func TestStuckViewerIsCutOff(t *testing.T) {
	t.Parallel()
	server, viewer := net.Pipe() // unbuffered: a write waits for a read
	defer server.Close()
	defer viewer.Close()
	w := &chunkWriter{conn: newStreamConn(server), timeout: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() { _, err := w.Write([]byte("data: {}\n\n")); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errSlowViewer) {
			t.Fatalf("err = %v, want errSlowViewer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stuck write was never cut off")
	}
}

// What a chunkWriter sends is an HTTP/1.1 response whose body is the
// writes, in order, ended by end: a standard client reads it whole.
func TestChunkWriterFramesTheBody(t *testing.T) {
	t.Parallel()
	server, viewer := net.Pipe()
	defer viewer.Close()
	w := &chunkWriter{conn: newStreamConn(server), timeout: 5 * time.Second,
		head: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")}
	go func() {
		defer server.Close()
		for _, p := range []string{"data: 1\n\n", "", ": keep-alive\n", "data: 2\n\n"} {
			if _, err := w.Write([]byte(p)); err != nil {
				t.Error(err)
				return
			}
		}
		if err := w.end(); err != nil {
			t.Error(err)
		}
	}()
	body := readResponseBody(t, viewer)
	if want := "data: 1\n\n: keep-alive\ndata: 2\n\n"; string(body) != want {
		t.Fatalf("body = %q, want %q", body, want)
	}
}

// readResponseBody reads an HTTP/1.1 response from conn as a standard
// client does, and returns its body.
func readResponseBody(t *testing.T, conn net.Conn) []byte {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// A frame the tail shares is exactly the chunk the stream's own writer
// would send: a client reads frames and writes as one body.
func TestFramesAreChunksOfTheBody(t *testing.T) {
	t.Parallel()
	server, viewer := net.Pipe()
	defer viewer.Close()
	w := &chunkWriter{conn: newStreamConn(server), timeout: 5 * time.Second,
		head: []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")}
	go func() {
		defer server.Close()
		if err := w.send(sseChunk("7", "image", []byte(`{"id":"a"}`))); err != nil {
			t.Error(err)
		}
		if _, err := w.Write([]byte(": keep-alive\n")); err != nil {
			t.Error(err)
		}
		if err := w.send(sseChunk("8-0", "removed", []byte(`{}`))); err != nil {
			t.Error(err)
		}
		if err := w.end(); err != nil {
			t.Error(err)
		}
	}()
	body := readResponseBody(t, viewer)
	want := "id: 7\nevent: image\ndata: {\"id\":\"a\"}\n\n: keep-alive\nid: 8-0\nevent: removed\ndata: {}\n\n"
	if string(body) != want {
		t.Fatalf("body = %q, want %q", body, want)
	}
}

// A tail answers for the positions it holds, and only those, however
// often it has been trimmed; what a stream took stays as it was.
func TestTailKnowsWhatItHolds(t *testing.T) {
	t.Parallel()
	tl := &tail{since: "0", subs: map[*waker]struct{}{}}
	ids := func(fs []frame) (s []string) {
		for _, f := range fs {
			s = append(s, f.ev.ID)
		}
		return s
	}
	add := func(from, to int) {
		var fs []frame
		for i := from; i <= to; i++ {
			fs = append(fs, frame{ev: storage.Event{ID: strconv.Itoa(i)}})
		}
		tl.add(fs)
	}
	add(1, 3)
	if fs, known, _ := tl.after("0"); !known || len(fs) != 3 {
		t.Fatalf("after the start: %v %v", ids(fs), known)
	}
	held, _, _ := tl.after("1")
	if _, known, _ := tl.after("x"); known {
		t.Fatal("an id the tail never read is known")
	}
	add(4, tailFrames+10) // trims
	if _, known, _ := tl.after("1"); known {
		t.Fatal("a trimmed position is still known")
	}
	last := strconv.Itoa(tailFrames + 10)
	if fs, known, _ := tl.after(last); !known || len(fs) != 0 {
		t.Fatalf("after the last: %v %v", ids(fs), known)
	}
	if fs, known, _ := tl.after(tl.since); !known || len(fs) != len(tl.frames) || len(fs) > tailFrames {
		t.Fatalf("after since: %d frames, known %v", len(fs), known)
	}
	if got := ids(held); len(got) != 2 || got[0] != "2" || got[1] != "3" {
		t.Fatalf("a slice taken before the trim changed: %v", got)
	}
}

// A wake ends a stream's wait at once, whether it comes during the wait
// or between begin and the wait; wakes that come while nobody waits end
// only the next wait; and a wake cancels a log read set to end with it.
func TestWakeEndsTheWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := newWaker()
		for _, early := range []bool{false, true} {
			w.begin()
			if early {
				w.wake()
				w.wake() // a second pending wake is the same wake
			} else {
				time.AfterFunc(10*time.Millisecond, w.wake)
			}
			<-w.ch
			if early && w.cancelOnWake(func() {}) {
				t.Fatal("a log read was set to end with a wake that already came")
			}
		}
		select {
		case <-w.ch:
			t.Fatal("two wakes while nobody waited ended two waits")
		default:
		}
		w.viewerLeft()
		<-w.ch
		if !w.left.Load() {
			t.Fatal("the wake for a viewer leaving did not say so")
		}
	})
	w := newWaker()
	w.begin()
	cancelled := make(chan struct{})
	if !w.cancelOnWake(func() { close(cancelled) }) {
		t.Fatal("no wake came, yet the read was refused")
	}
	w.wake()
	<-cancelled
}

// A mailbox keeps the latest word of each upload, oldest upload first, at
// most mailboxUploads of them, and drops the news of an upload whose image
// was sent, also news that comes later, for the last mailboxUploads such.
func TestMailbox(t *testing.T) {
	t.Parallel()
	m := newMailbox()
	took := func() string {
		var s []string
		for _, c := range m.take(nil) {
			s = append(s, string(c))
		}
		return strings.Join(s, " ")
	}
	m.put("a", []byte("a1"))
	m.put("b", []byte("b1"))
	m.put("a", []byte("a2"))
	if got := took(); got != "a2 b1" {
		t.Errorf("took %q; want the latest of each upload in order, a2 b1", got)
	}
	if got := took(); got != "" {
		t.Errorf("took %q again; want nothing", got)
	}

	m.put("c", []byte("c1"))
	m.completed("c")
	m.put("c", []byte("c2")) // late
	if got := took(); got != "" {
		t.Errorf("took %q after c's image; want nothing", got)
	}

	for i := range mailboxUploads + 1 {
		m.put(fmt.Sprint("u", i), []byte(fmt.Sprint("u", i)))
	}
	got := strings.Fields(took())
	if len(got) != mailboxUploads || got[0] != "u1" {
		t.Errorf("took %d, first %q; want the last %d uploads, from u1", len(got), got[0], mailboxUploads)
	}

	// Done is remembered for the last mailboxUploads uploads only.
	for i := range mailboxUploads {
		m.completed(fmt.Sprint("d", i))
	}
	m.put("c", []byte("c3")) // c is forgotten: its news is news again
	m.put("d1", []byte("d1"))
	if got := took(); got != "c3" {
		t.Errorf("took %q; want c3 alone (c forgotten as done, d1 remembered)", got)
	}
}
