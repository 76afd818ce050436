// Package tcptest runs throwaway TCP servers on loopback for tests that
// need a peer misbehaving below HTTP: one that echoes, stalls or hangs up.
package tcptest

import (
	"net"
	"sync"
	"testing"
)

// Serve listens on a free loopback port and runs handle on its own
// goroutine for every connection accepted, until the test ends. Then the
// listener and every connection still open are closed, and Serve's
// cleanup waits for the handlers to return, so no goroutine outlives the
// test. handle need not close its connection. It returns host:port.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
