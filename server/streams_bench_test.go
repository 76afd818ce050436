//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkIdleStreamRSS measures what an idle viewer costs the server as
// it ships: a qrsync process of its own holds 10,000 streams of one
// session (1,000 with -short), each read to its snapshot and then quiet,
// and the growth of the process's RSS is reported per stream
// (bytes/stream). Run with -benchtime=1x: one round is all the streams.
func BenchmarkIdleStreamRSS(b *testing.B) {
	streams := 10000
	if testing.Short() {
		streams = 1000
	}
	// Each end of every stream takes a file descriptor: one in this
	// process, one in the server, which inherits the limit.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur = uint64(streams + 1024); lim.Max < lim.Cur {
		b.Fatalf("the open-file limit is %d; %d streams need %d", lim.Max, streams, lim.Cur)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	bin := buildQrsync(b)
	maxConns := strconv.Itoa(streams + 100)
	p := startQrsync(b, bin, freeAddr(b), b.TempDir(),
		"--max-conns", maxConns, "--max-conns-per-address", maxConns)
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
		before, goBefore := p.procStatus("VmRSS"), goMemory(b, p.Base)
		conns := make([]net.Conn, 0, streams)
		for range streams {
			conns = append(conns, open())
		}
		time.Sleep(2 * time.Second) // let the streams settle into waiting
		during, goDuring := p.procStatus("VmRSS"), goMemory(b, p.Base)
		b.ReportMetric(float64(during-before)/float64(streams), "bytes/stream")
		// Where it goes, by the Go runtime's own account.
		for _, k := range []string{"go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines"} {
			b.ReportMetric((goDuring[k]-goBefore[k])/float64(streams), strings.TrimPrefix(k, "go_memstats_")+"/stream")
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// goMemory reads the Go runtime's gauges from a server's /metrics.
func goMemory(b *testing.B, base string) map[string]float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
