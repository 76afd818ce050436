package server

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/cloudwego/hertz/pkg/protocol/sse"
)

// stuckWriter is a connection whose peer stopped reading: writes block
// until the connection is closed.
type stuckWriter struct {
	closed chan struct{}
	once   sync.Once
}

func (w *stuckWriter) Write(*sse.Event) error  { <-w.closed; return io.ErrClosedPipe }
func (w *stuckWriter) WriteKeepAlive() error   { <-w.closed; return io.ErrClosedPipe }
func (w *stuckWriter) WriteChunk([]byte) error { <-w.closed; return io.ErrClosedPipe }
func (w *stuckWriter) Close() error            { w.once.Do(func() { close(w.closed) }); return nil }

// A viewer that stops reading is cut off after the stream's write
// timeout instead of pinning its handler forever.
func TestStuckViewerIsCutOff(t *testing.T) {
	stuck := &stuckWriter{closed: make(chan struct{})}
	d := &deadlineWriter{w: stuck, conn: stuck, timeout: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- d.Write(&sse.Event{Type: "image", Data: []byte("{}")}) }()
	select {
	case err := <-done:
		if !errors.Is(err, errSlowViewer) {
			t.Fatalf("err = %v, want errSlowViewer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stuck write was never cut off")
	}
	// A writer that keeps up is left alone.
	ok := &deadlineWriter{w: okWriter{}, conn: stuck, timeout: time.Second}
	if err := ok.Write(&sse.Event{Type: "image", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
}

type okWriter struct{}

func (okWriter) Write(*sse.Event) error  { return nil }
func (okWriter) WriteKeepAlive() error   { return nil }
func (okWriter) WriteChunk([]byte) error { return nil }
