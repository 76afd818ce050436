package sse

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// benchStream builds a realistic qrsync stream: n image events with ~400
// bytes of JSON each, ids that change every event, a keep-alive comment now
// and then.
func benchStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("retry: 3000\n\n")
	for i := 0; i < n; i++ {
		if i%50 == 0 {
			b.WriteString(":\n\n")
		}
		fmt.Fprintf(&b, "id: 1700000000%03d-%d\nevent: image\ndata: ", i, i%7)
		fmt.Fprintf(&b, `{"id":"img_%08d","name":"IMG_2024%04d_%06d.jpg","contentType":"image/jpeg","size":%d,"width":4032,"height":3024,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","createdAt":"2024-05-01T12:%02d:%02d.123456Z","url":"/api/sessions/s/images/img_%08d","thumbUrl":"/api/sessions/s/images/img_%08d/thumb"}`,
			i, i%10000, i, 2000000+i, i%60, i%60, i, i)
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

// BenchmarkDecoder measures decoding throughput (bytes/s) over a stream of
// image events, whole and in network-sized and tiny reads.
func BenchmarkDecoder(b *testing.B) {
	stream := benchStream(1000)
	for _, bc := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"chunks-1400", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 1400} }},
		{"crlf", nil},
		{"chunks-64", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 64} }},
		{"one-byte", iotest.OneByteReader},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := stream
			wrap := bc.wrap
			if wrap == nil {
				in = bytes.ReplaceAll(stream, []byte("\n"), []byte("\r\n"))
				wrap = func(r io.Reader) io.Reader { return r }
			}
			br := bytes.NewReader(in)
			d := NewDecoder(nil)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				br.Reset(in)
				d.Reset(wrap(br))
				n := 0
				for {
					if _, err := d.Next(); err != nil {
						break
					}
					n++
				}
				if n != 1000 {
					b.Fatalf("%d events", n)
				}
			}
		})
	}
}

// chunkReader returns at most n bytes per Read, like a network connection.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}
