package photo

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/gen2brain/heic"
)

// The WebAssembly decoder runs in a worker process, not in the server's.
//
// Go cannot preempt a goroutine while it runs wazero's compiled code: the
// preemption signal finds no Go function at the interrupted instruction
// and gives up, and libde265 decodes for seconds without calling out. A
// garbage collection that starts meanwhile cannot scan that goroutine's
// stack, so it cannot finish, and every goroutine that allocates waits
// for it: measured, a 1800x1200 JPEG uploaded during a HEIC decode was
// answered after 2.1 s instead of 0.1 s. A worker has its own runtime and
// collector, so the server's goroutines never wait on a decode. It is the
// same executable, started with heicWorkerEnv set (package photo's init
// then serves decodes on stdin and stdout and exits), so it needs no
// separate binary and works in test binaries too. Workers are started on
// demand, each compiles the decoder once, and up to maxIdleHEICWorkers
// stay for the next photo; one that fails is killed. With a system
// libheif (purego) the decode is a C call, during which Go's collector
// does not wait, so it runs in the server's process.

// heicWorkerEnv, set to heicWorkerMagic, makes a process a HEIC worker.
const (
	heicWorkerEnv   = "QRSYNC_PHOTO_HEIC_WORKER"
	heicWorkerMagic = "v1-decode-on-stdin"
)

func init() {
	if os.Getenv(heicWorkerEnv) == heicWorkerMagic {
		// Standard output carries the answers: whatever else would write
		// there (the decoder's WASI stdout) goes to standard error.
		answers := os.Stdout
		os.Stdout = os.Stderr
		os.Exit(serveHEICWorker(os.Stdin, answers))
	}
}

// maxIdleHEICWorkers is how many workers stay between photos: each holds
// the compiled decoder (~25 MB).
var maxIdleHEICWorkers = max(1, runtime.GOMAXPROCS(0))

// heicInProcess reports whether HEIC is decoded in this process (a
// system libheif); otherwise a worker decodes it.
func heicInProcess() bool { return heic.Dynamic() == nil }

var heicWorkers struct {
	mu   sync.Mutex
	idle []*heicWorker
}

type heicWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startHEICWorker starts a worker process and has it compile the decoder.
func startHEICWorker() (*heicWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("photo: HEIC worker: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), heicWorkerEnv+"="+heicWorkerMagic)
	cmd.Stderr = os.Stderr // libheif's own warnings, if any
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("photo: HEIC worker: %w", err)
	}
	return &heicWorker{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

func (w *heicWorker) kill() {
	w.in.Close()
	w.cmd.Process.Kill()
	w.cmd.Wait()
}

func getHEICWorker() (*heicWorker, error) {
	heicWorkers.mu.Lock()
	if n := len(heicWorkers.idle); n > 0 {
		w := heicWorkers.idle[n-1]
		heicWorkers.idle = heicWorkers.idle[:n-1]
		heicWorkers.mu.Unlock()
		return w, nil
	}
	heicWorkers.mu.Unlock()
	return startHEICWorker()
}

func putHEICWorker(w *heicWorker) {
	heicWorkers.mu.Lock()
	if len(heicWorkers.idle) < maxIdleHEICWorkers {
		heicWorkers.idle = append(heicWorkers.idle, w)
		w = nil
	}
	heicWorkers.mu.Unlock()
	if w != nil {
		w.kill()
	}
}

// warmHEICWorker starts a worker ahead of the first photo, so that its
// start and compilation overlap the upload.
func warmHEICWorker() {
	heicWorkers.mu.Lock()
	have := len(heicWorkers.idle) > 0
	heicWorkers.mu.Unlock()
	if have {
		return
	}
	if w, err := startHEICWorker(); err == nil {
		if _, err := w.decode(nil); err != nil && !errors.Is(err, errWorkerEmpty) {
			w.kill()
			return
		}
		putHEICWorker(w)
	}
}

// errWorkerGone is a worker that could not be given the file.
var errWorkerGone = errors.New("photo: HEIC worker gone")

// errWorkerEmpty is a worker's answer to an empty file: the warm-up, which
// only compiles the decoder.
var errWorkerEmpty = errors.New("photo: HEIC worker: no file")

// lastWorkerAlloc is what the last worker decode allocated in the worker,
// for the cost test.
var lastWorkerAlloc struct {
	sync.Mutex
	n int64
}

// decodeInWorker has a worker decode data, a whole HEIF file. A worker
// that stops while it decodes is taken to have been stopped by the file
// (ErrCorrupt); one found gone before it was given the file is replaced
// once.
func decodeInWorker(data []byte, maxPixels int64) (image.Image, error) {
	var (
		img image.Image
		err error
	)
	for try := 0; try < 2; try++ {
		var w *heicWorker
		if w, err = getHEICWorker(); err != nil {
			return nil, err
		}
		img, err = w.decode(data)
		var refused *workerRefusal
		if err == nil || errors.As(err, &refused) {
			putHEICWorker(w)
			break
		}
		w.kill() // it broke, or broke the protocol: a new one next time
		if !errors.Is(err, errWorkerGone) {
			return nil, errorf(ErrCorrupt, "the HEIC decoder stopped on it (%v)", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > maxPixels {
		return nil, errorf(ErrCorrupt, "decoded %dx%d", b.Dx(), b.Dy())
	}
	return img, nil
}

// workerRefusal is the decoder's error, as the worker reported it.
type workerRefusal struct{ msg string }

func (e *workerRefusal) Error() string { return e.msg }

// The protocol, all integers big-endian. Request: u64 length, the file
// (length 0: only compile). Answer: u8 0 and u32 length and a message for
// an error, or u8 1 and the image: u8 kind (1 YCbCr, 2 Gray, 3 NRGBA, 4
// RGBA), u32 width, height, u8 subsample ratio, u32 two strides, u32
// three plane lengths, the planes; and last, either way, u64 the bytes the
// decode allocated in the worker.

const (
	kindYCbCrImage = 1 + iota
	kindGrayImage
	kindNRGBAImage
	kindRGBAImage
)

func (w *heicWorker) decode(data []byte) (image.Image, error) {
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(len(data)))
	if _, err := w.in.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", errWorkerGone, err)
	}
	if _, err := w.in.Write(data); err != nil {
		return nil, fmt.Errorf("%w: %v", errWorkerGone, err)
	}
	img, err := readWorkerAnswer(w.out)
	var alloc [8]byte
	if _, rerr := io.ReadFull(w.out, alloc[:]); rerr != nil {
		return nil, fmt.Errorf("photo: HEIC worker: %w", rerr)
	}
	lastWorkerAlloc.Lock()
	lastWorkerAlloc.n = int64(binary.BigEndian.Uint64(alloc[:]))
	lastWorkerAlloc.Unlock()
	if err != nil {
		var refused *workerRefusal
		if errors.As(err, &refused) && refused.msg == errWorkerEmpty.Error() {
			return nil, errWorkerEmpty
		}
	}
	return img, err
}

func readWorkerAnswer(r *bufio.Reader) (image.Image, error) {
	fail := func(err error) (image.Image, error) { return nil, fmt.Errorf("photo: HEIC worker: %w", err) }
	ok, err := r.ReadByte()
	if err != nil {
		return fail(err)
	}
	if ok == 0 {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return fail(err)
		}
		msg := make([]byte, min(binary.BigEndian.Uint32(n[:]), 4096))
		if _, err := io.ReadFull(r, msg); err != nil {
			return fail(err)
		}
		return nil, &workerRefusal{string(msg)}
	}
	var h [30]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fail(err)
	}
	be := binary.BigEndian
	kind, wd, ht, ratio := h[0], int(be.Uint32(h[1:])), int(be.Uint32(h[5:])), image.YCbCrSubsampleRatio(h[9])
	s1, s2 := int(be.Uint32(h[10:])), int(be.Uint32(h[14:]))
	n := [3]int{int(be.Uint32(h[18:])), int(be.Uint32(h[22:])), int(be.Uint32(h[26:]))}
	// The worker is this program, but what it decoded came from a phone:
	// the sizes are checked before anything is allocated for them.
	if wd <= 0 || ht <= 0 || wd > 1<<16 || ht > 1<<16 || s1 < 0 || s2 < 0 || s1 > 4*align(wd, 16) || s2 > 4*align(wd, 16) ||
		n[0] > s1*ht || n[1] > s2*ht || n[2] > s2*ht {
		return fail(fmt.Errorf("answer of %dx%d, strides %d %d, planes %v", wd, ht, s1, s2, n))
	}
	buf := make([]byte, n[0]+n[1]+n[2])
	if _, err := io.ReadFull(r, buf); err != nil {
		return fail(err)
	}
	p0, p1, p2 := buf[:n[0]:n[0]], buf[n[0]:n[0]+n[1]:n[0]+n[1]], buf[n[0]+n[1]:]
	rect := image.Rect(0, 0, wd, ht)
	var img image.Image
	switch kind {
	case kindYCbCrImage:
		y := &image.YCbCr{Y: p0, Cb: p1, Cr: p2, YStride: s1, CStride: s2, SubsampleRatio: ratio, Rect: rect}
		if !planesFit(y) {
			return fail(errors.New("YCbCr planes too short"))
		}
		img = y
	case kindGrayImage:
		img = &image.Gray{Pix: p0, Stride: s1, Rect: rect}
	case kindNRGBAImage:
		img = &image.NRGBA{Pix: p0, Stride: s1, Rect: rect}
	case kindRGBAImage:
		img = &image.RGBA{Pix: p0, Stride: s1, Rect: rect}
	default:
		return fail(fmt.Errorf("image kind %d", kind))
	}
	if kind != kindYCbCrImage && len(p0) < (ht-1)*s1+wd*map[byte]int{kindGrayImage: 1, kindNRGBAImage: 4, kindRGBAImage: 4}[kind] {
		return fail(errors.New("pixels too short"))
	}
	return img, nil
}

// planesFit reports whether a YCbCr's planes hold its rectangle.
func planesFit(y *image.YCbCr) bool {
	w, h := y.Rect.Dx(), y.Rect.Dy()
	cw, ch := w, h
	switch y.SubsampleRatio {
	case image.YCbCrSubsampleRatio420:
		cw, ch = (w+1)/2, (h+1)/2
	case image.YCbCrSubsampleRatio422:
		cw = (w + 1) / 2
	case image.YCbCrSubsampleRatio444:
	default:
		return false
	}
	return y.YStride >= w && y.CStride >= cw && len(y.Y) >= (h-1)*y.YStride+w &&
		len(y.Cb) >= (ch-1)*y.CStride+cw && len(y.Cr) >= (ch-1)*y.CStride+cw
}

// serveHEICWorker is a worker's life: decode each file sent on in, answer
// on out, until in ends. It returns the exit code.
func serveHEICWorker(in io.Reader, out io.Writer) int {
	heic.Init()
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0 // the server is done with us
		}
		n := binary.BigEndian.Uint64(hdr[:])
		if n > 1<<31 {
			return 2
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return 2
		}
		img, err := workerDecode(data)
		data = nil
		runtime.ReadMemStats(&after)
		writeWorkerAnswer(w, img, err)
		var alloc [8]byte
		binary.BigEndian.PutUint64(alloc[:], after.TotalAlloc-before.TotalAlloc)
		w.Write(alloc[:])
		if w.Flush() != nil {
			return 2
		}
		img = nil
		// The decoder's memory is garbage now: hand it back, so an idle
		// worker holds only the compiled decoder.
		debug.FreeOSMemory()
	}
}

func workerDecode(data []byte) (img image.Image, err error) {
	if len(data) == 0 {
		return nil, errWorkerEmpty
	}
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder failed: %v", p)
		}
	}()
	return heic.Decode(bytes.NewReader(data))
}

func writeWorkerAnswer(w *bufio.Writer, img image.Image, err error) {
	if err == nil {
		var kind byte
		var ratio image.YCbCrSubsampleRatio
		var s1, s2 int
		var planes [3][]byte
		switch m := img.(type) {
		case *image.YCbCr:
			kind, ratio, s1, s2, planes = kindYCbCrImage, m.SubsampleRatio, m.YStride, m.CStride, [3][]byte{m.Y, m.Cb, m.Cr}
		case *image.Gray:
			kind, s1, planes[0] = kindGrayImage, m.Stride, m.Pix
		case *image.NRGBA:
			kind, s1, planes[0] = kindNRGBAImage, m.Stride, m.Pix
		case *image.RGBA:
			kind, s1, planes[0] = kindRGBAImage, m.Stride, m.Pix
		default:
			err = fmt.Errorf("decoded to %T", img)
		}
		if err == nil {
			b := img.Bounds()
			w.WriteByte(1)
			var h [30]byte
			be := binary.BigEndian
			h[0] = kind
			be.PutUint32(h[1:], uint32(b.Dx()))
			be.PutUint32(h[5:], uint32(b.Dy()))
			h[9] = byte(ratio)
			be.PutUint32(h[10:], uint32(s1))
			be.PutUint32(h[14:], uint32(s2))
			for i, p := range planes {
				be.PutUint32(h[18+4*i:], uint32(len(p)))
			}
			w.Write(h[:])
			for _, p := range planes {
				w.Write(p)
			}
			return
		}
	}
	msg := err.Error()
	w.WriteByte(0)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(msg)))
	w.Write(n[:])
	w.WriteString(msg)
}
