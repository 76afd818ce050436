//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleStreamRSS measures what an idle viewer costs the server as
// it ships: a qrsync process of its own holds 1,000 streams of one
// session, each read to its snapshot and then quiet, and the growth of
// the process's RSS is reported per stream (bytes/stream). Run with
// -benchtime=1x: one round is 1,000 streams.
func BenchmarkIdleStreamRSS(b *testing.B) {
	const streams = 1000
	bin := buildQrsync(b)
	p := startQrsync(b, bin, freeAddr(b), b.TempDir(),
		"--max-conns", "4096", "--max-conns-per-address", "4096")
	s := p.NewSession()
	addr := strings.TrimPrefix(p.Base, "http://")
	open := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n", s.EventsURL)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("stream: %v", err)
			}
			if strings.HasPrefix(line, "event: snapshot") {
				return c
			}
		}
	}
	// A few first, to warm every path a viewer takes.
	for range 10 {
		open().Close()
	}
	for b.Loop() {
		time.Sleep(time.Second)
		before := p.procStatus("VmRSS")
		conns := make([]net.Conn, 0, streams)
		for range streams {
			conns = append(conns, open())
		}
		time.Sleep(2 * time.Second) // let the streams settle into waiting
		during := p.procStatus("VmRSS")
		b.ReportMetric(float64(during-before)/streams, "bytes/stream")
		for _, c := range conns {
			c.Close()
		}
	}
}
