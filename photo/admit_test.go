package photo

import (
	"bytes"
	"errors"
	"image"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"qrsync/internal/flatimage"
)

// admitProbe is an Options.Admit that records its calls and its release's.
type admitProbe struct {
	err       error
	calls     int
	cost      int64
	allocated uint64 // by Process when Admit was called
	start     runtime.MemStats
	released  int
}

func (a *admitProbe) admit(cost int64) (func(), error) {
	a.calls++
	a.cost = cost
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	a.allocated = m.TotalAlloc - a.start.TotalAlloc
	if a.err != nil {
		return nil, a.err
	}
	return func() { a.released++ }, nil
}

func (a *admitProbe) process(t *testing.T, r io.Reader, opt Options, thumb io.Writer) (Info, error) {
	t.Helper()
	opt.Admit = a.admit
	runtime.GC()
	runtime.ReadMemStats(&a.start)
	return Process(r, opt, thumb)
}

// orderWriter notes whether release had been called by the time the
// thumbnail is written.
type orderWriter struct {
	probe         *admitProbe
	releasedFirst bool
	n             int
}

func (w *orderWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		w.releasedFirst = w.probe.released > 0
	}
	w.n += len(p)
	return len(p), nil
}

// panicReader panics once the first n bytes have been read.
type panicReader struct {
	r io.Reader
	n int
}

func (p *panicReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		panic("reader exploded")
	}
	b = b[:min(len(b), p.n)]
	n, err := p.r.Read(b)
	p.n -= n
	return n, err
}

// failReader fails once the first n bytes have been read.
type failReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	b = b[:min(len(b), f.n)]
	n, err := f.r.Read(b)
	f.n -= n
	return n, err
}

func TestProcessAdmit(t *testing.T) {
	// Progressive 4:4:4 costs about 14 bytes per pixel at the 1/2 scale
	// its thumbnail needs (its coefficients are kept at full size): 20
	// MB here, so what was allocated before Admit shows whether the
	// decode had started.
	data := flatimage.JPEG{W: 1500, H: 1000, Progressive: true, Sampling: []byte{0x11, 0x11, 0x11}}.Encode()
	scan := bytes.LastIndex(data, []byte{0xFF, 0xDA})

	t.Run("before decoding, released once before encoding", func(t *testing.T) {
		var a admitProbe
		w := &orderWriter{probe: &a}
		info, err := a.process(t, bytes.NewReader(data), Options{}, w)
		if err != nil {
			t.Fatal(err)
		}
		if a.calls != 1 || a.released != 1 {
			t.Errorf("Admit called %d times, release %d", a.calls, a.released)
		}
		if info.Cost != a.cost || a.cost < 12*1500*1000 {
			t.Errorf("Info.Cost %d, admitted %d", info.Cost, a.cost)
		}
		if a.allocated > 1<<20 {
			t.Errorf("%d bytes allocated before Admit: decoding had begun", a.allocated)
		}
		if w.n == 0 || !w.releasedFirst {
			t.Errorf("thumbnail of %d bytes written before release", w.n)
		}
	})

	t.Run("no Admit, no Cost", func(t *testing.T) {
		info, err := Process(bytes.NewReader(data), Options{}, io.Discard)
		if err != nil || info.Cost != 0 {
			t.Errorf("Info %+v, %v", info, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		errBusy := errors.New("over budget")
		a := admitProbe{err: errBusy}
		var thumb bytes.Buffer
		_, err := a.process(t, bytes.NewReader(data), Options{}, &thumb)
		if err != errBusy {
			t.Errorf("err = %v, want Admit's error as is", err)
		}
		if a.released != 0 || thumb.Len() != 0 {
			t.Errorf("released %d times, %d thumbnail bytes", a.released, thumb.Len())
		}
	})

	t.Run("over the limit is not admitted", func(t *testing.T) {
		var a admitProbe
		_, err := a.process(t, bytes.NewReader(data), Options{MaxPixels: 1500 * 1000 * 3}, io.Discard)
		if !errors.Is(err, ErrTooManyPixels) || a.calls != 0 {
			t.Errorf("err = %v, Admit called %d times", err, a.calls)
		}
	})

	failures := []struct {
		name string
		r    func() io.Reader
		want func(error) bool
	}{
		{"corrupt after admit", func() io.Reader { return bytes.NewReader(data[:scan+100]) },
			func(err error) bool { return errors.Is(err, ErrCorrupt) }},
		{"read error after admit", func() io.Reader {
			return &failReader{bytes.NewReader(data), scan + 100, io.ErrClosedPipe}
		}, func(err error) bool { return errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, ErrCorrupt) }},
		{"panic after admit", func() io.Reader { return &panicReader{bytes.NewReader(data), scan + 100} },
			func(err error) bool { return errors.Is(err, ErrCorrupt) && strings.Contains(err.Error(), "exploded") }},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			var a admitProbe
			_, err := a.process(t, f.r(), Options{}, io.Discard)
			if !f.want(err) {
				t.Errorf("err = %v", err)
			}
			if a.calls != 1 || a.released != 1 {
				t.Errorf("Admit called %d times, release %d", a.calls, a.released)
			}
		})
	}

	t.Run("the cost does not depend on how the bytes arrive", func(t *testing.T) {
		for _, d := range [][]byte{
			data,
			mustBuild(flatimage.PNG(300, 200, 8, 0, true, flatimage.PNGChunk("tEXt", make([]byte, 5000)), flatimage.PNGChunk("tRNS", []byte{0, 0})))(t),
			mustBuild(flatimage.GIF(300, 200, image.Rect(5, 5, 200, 100), true))(t),
			flatimage.VP8XWebP(300, 200, flatimage.RIFFChunk("ICCP", make([]byte, 5000)),
				flatimage.RIFFChunk("ALPH", append([]byte{1}, flatimage.VP8L(300, 200, false, [4]byte{})...)), flatimage.RIFFChunk("VP8 ", flatimage.VP8(300, 200))),
		} {
			var whole, bytewise admitProbe
			_, err1 := whole.process(t, bytes.NewReader(d), Options{}, io.Discard)
			_, err2 := bytewise.process(t, iotest.OneByteReader(bytes.NewReader(d)), Options{}, io.Discard)
			if err1 != nil || err2 != nil || whole.cost != bytewise.cost {
				t.Errorf("cost %d (%v) whole, %d (%v) a byte at a time", whole.cost, err1, bytewise.cost, err2)
			}
		}
	})

	t.Run("a panic in Admit is the caller's", func(t *testing.T) {
		defer func() {
			if p := recover(); p != "admit exploded" {
				t.Errorf("recovered %v", p)
			}
		}()
		opt := Options{Admit: func(int64) (func(), error) { panic("admit exploded") }}
		_, err := Process(bytes.NewReader(data), opt, io.Discard)
		t.Errorf("Process returned %v", err)
	})
}
