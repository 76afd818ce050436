package server

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"qrsync/netguard"
)

// guardedPair returns the two ends of a loopback TCP connection, the
// server's as the guard hands it to Hertz, after the server has read a
// request head from it (so that the poller has seen it readable once).
func guardedPair(t *testing.T) (server, viewer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := netguard.Wrap(ln, netguard.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	viewer, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewer.Close() })
	server, err = g.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	const head = "GET /events HTTP/1.1\r\n\r\n"
	if _, err := io.WriteString(viewer, head); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // let the poller see the bytes first
	if _, err := io.ReadFull(server, make([]byte, len(head))); err != nil {
		t.Fatal(err)
	}
	server.(*netguard.Conn).HeadDone()
	return server, viewer
}

// On a guarded TCP socket a stream uses the socket itself (where the
// platform allows), and its watch for the viewer returns when the viewer
// closes the connection or sends a byte, and not while it only listens.
func TestStreamConnWaitGone(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"close", "byte"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			server, viewer := guardedPair(t)
			c := newStreamConn(server)
			if rawSockets && c.raw == nil {
				t.Fatal("a guarded TCP connection did not give its socket")
			}
			gone := make(chan struct{})
			go func() {
				c.waitGone()
				close(gone)
			}()
			select {
			case <-gone:
				t.Fatal("the watch ended while the viewer only listened")
			case <-time.After(50 * time.Millisecond):
			}
			if how == "close" {
				viewer.Close()
			} else {
				viewer.Write([]byte("G"))
			}
			select {
			case <-gone:
			case <-time.After(10 * time.Second):
				t.Fatalf("the viewer's %s went unnoticed", how)
			}
		})
	}
}

// A viewer that stops reading is cut off on a socket too: writes go on
// until its buffers are full, then one waits out the timeout and fails
// with errSlowViewer; a viewer that reads gets every byte.
func TestStreamConnWrite(t *testing.T) {
	t.Parallel()
	t.Run("stuck", func(t *testing.T) {
		t.Parallel()
		server, _ := guardedPair(t)
		c := newStreamConn(server)
		chunk := make([]byte, 256<<10)
		done := make(chan error, 1)
		go func() {
			for {
				if err := c.write(chunk, 50*time.Millisecond); err != nil {
					done <- err
					return
				}
			}
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errSlowViewer) {
				t.Fatalf("err = %v, want errSlowViewer", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a stuck viewer was never cut off")
		}
	})
	t.Run("reading", func(t *testing.T) {
		t.Parallel()
		server, viewer := guardedPair(t)
		c := newStreamConn(server)
		want := make([]byte, 8<<20) // more than the buffers hold: writes must wait
		for i := range want {
			want[i] = byte(i * 7)
		}
		go func() {
			c.write(want, 10*time.Second)
			c.Close()
		}()
		got, err := io.ReadAll(viewer)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
		}
	})
}
