package interop

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// tap is a TCP proxy on loopback that records every byte each way. Clients
// under test reach the real server through it, so the test can decode the
// very bytes a client read, and can cut a connection the way a network does.
type tap struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []*tapConn
	closed bool
	wg     sync.WaitGroup
}

// tapConn is one proxied connection and what went through it.
type tapConn struct {
	client, server net.Conn
	done           chan struct{} // closed when both copies have ended

	mu         sync.Mutex
	fromClient bytes.Buffer
	fromServer bytes.Buffer
}

// newTap proxies a fresh loopback port to target (host:port).
func newTap(t testing.TB, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{t: t, ln: ln, target: target}
	tp.wg.Add(1)
	go tp.accept()
	t.Cleanup(tp.Close)
	return tp
}

// Base is the tap's origin, to use instead of the server's.
func (tp *tap) Base() string { return "http://" + tp.ln.Addr().String() }

func (tp *tap) accept() {
	defer tp.wg.Done()
	for {
		c, err := tp.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", tp.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		tc := &tapConn{client: c, server: s, done: make(chan struct{})}
		tp.mu.Lock()
		if tp.closed {
			tp.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		tp.conns = append(tp.conns, tc)
		tp.mu.Unlock()
		tp.wg.Add(1)
		go tc.run(&tp.wg)
	}
}

func (tc *tapConn) run(wg *sync.WaitGroup) {
	defer wg.Done()
	var copies sync.WaitGroup
	copies.Add(2)
	cp := func(dst, src net.Conn, rec *bytes.Buffer) {
		defer copies.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				tc.mu.Lock()
				rec.Write(buf[:n])
				tc.mu.Unlock()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		// Either side ending ends the connection: HTTP/1.1 clients and
		// servers here never half-close and expect more.
		tc.client.Close()
		tc.server.Close()
	}
	go cp(tc.server, tc.client, &tc.fromClient)
	go cp(tc.client, tc.server, &tc.fromServer)
	copies.Wait()
	close(tc.done)
}

// cut closes both sides of every open connection, as a network drop would,
// and waits until they are closed.
func (tp *tap) cut() {
	tp.mu.Lock()
	conns := append([]*tapConn(nil), tp.conns...)
	tp.mu.Unlock()
	for _, c := range conns {
		c.client.Close()
		c.server.Close()
	}
	for _, c := range conns {
		<-c.done
	}
}

// sent reports whether the server has sent b on an open connection.
func (tp *tap) sent(b []byte) bool {
	tp.mu.Lock()
	conns := append([]*tapConn(nil), tp.conns...)
	tp.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		found := bytes.Contains(c.fromServer.Bytes(), b)
		c.mu.Unlock()
		if found {
			return true
		}
	}
	return false
}

// Close stops the tap and every connection through it. It is safe to call
// more than once.
func (tp *tap) Close() {
	tp.mu.Lock()
	already := tp.closed
	tp.closed = true
	tp.mu.Unlock()
	if already {
		return
	}
	tp.ln.Close()
	tp.cut()
	tp.wg.Wait()
}

// exchange is one request and its answer as they crossed the wire.
type exchange struct {
	Req    *http.Request
	Status int
	Header http.Header
	// Body is the response body as sent (de-chunked), possibly cut short.
	Body []byte
	// Cut is set when the body ended before its end: the connection was
	// dropped mid-stream.
	Cut bool
}

// exchanges closes the tap and parses what went through it: every request
// and response, connection by connection in the order they were opened.
func (tp *tap) exchanges() []exchange {
	tp.t.Helper()
	tp.Close()
	var out []exchange
	for _, c := range tp.conns {
		c.mu.Lock()
		reqs := bufio.NewReader(bytes.NewReader(c.fromClient.Bytes()))
		resps := bufio.NewReader(bytes.NewReader(c.fromServer.Bytes()))
		c.mu.Unlock()
		for {
			req, err := http.ReadRequest(reqs)
			if err != nil {
				break
			}
			io.Copy(io.Discard, req.Body)
			resp, err := http.ReadResponse(resps, req)
			if err != nil {
				// A request that got no answer before the cut.
				break
			}
			body, err := io.ReadAll(resp.Body)
			ex := exchange{Req: req, Status: resp.StatusCode, Header: resp.Header, Body: body}
			if err != nil {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					tp.t.Errorf("tap: reading a recorded body: %v", err)
				}
				ex.Cut = true
			}
			out = append(out, ex)
			if ex.Cut {
				break
			}
		}
	}
	return out
}
