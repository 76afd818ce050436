//go:build linux

package s3blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"qrsync/internal/testservers"
	"qrsync/storage"
	"qrsync/storage/internal/fulldisk"
	"qrsync/storage/s3blob"
	"qrsync/storage/storagetest"
)

// failBound is how long a call may take to fail when the store is down:
// generous, for a loaded machine under -race. It tells a bounded call from
// a hung one; it is no speed test.
const failBound = 15 * time.Second

// testContext ends with the test, or after a minute: no call here needs
// that long, so reaching it means a hang.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openURL opens a store on rawURL with the server's credentials, and
// closes it when the test ends.
func openURL(t testing.TB, srv *testservers.S3Server, rawURL string) *s3blob.Store {
	t.Helper()
	s, err := s3blob.Open(testContext(t), rawURL, s3blob.WithCredentials(srv.AccessKey, srv.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openStore(t testing.TB, srv *testservers.S3Server, prefix string) *s3blob.Store {
	t.Helper()
	return openURL(t, srv, srv.URL(prefix))
}

// rawClient talks to the server directly, to look at what the store left
// there: objects under their full names, and multipart uploads.
func rawClient(t testing.TB, srv *testservers.S3Server) *minio.Core {
	t.Helper()
	u, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.NewCore(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region:       srv.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pendingUploads lists the multipart uploads in progress under prefix.
func pendingUploads(t testing.TB, c *minio.Core, bucket, prefix string) []string {
	t.Helper()
	res, err := c.ListMultipartUploads(testContext(t), bucket, prefix, "", "", "", 1000)
	if err != nil {
		t.Fatalf("ListMultipartUploads(%q): %v", prefix, err)
	}
	var keys []string
	for _, u := range res.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

func put(t testing.TB, s storage.BlobStore, key string, data []byte) {
	t.Helper()
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func get(t testing.TB, s storage.BlobStore, key string) []byte {
	t.Helper()
	b, err := s.Open(testContext(t), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if b.Size() != int64(len(data)) {
		t.Errorf("Open(%q).Size() = %d, but it holds %d bytes", key, b.Size(), len(data))
	}
	return data
}

func wantNotFound(t testing.TB, s storage.BlobStore, key string) {
	t.Helper()
	b, err := s.Open(testContext(t), key)
	if err == nil {
		b.Close()
		t.Fatalf("Open(%q) succeeded, want ErrNotFound", key)
	}
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
	}
}

func listKeys(t testing.TB, s storage.BlobStore, prefix string) []string {
	t.Helper()
	blobs, err := s.List(testContext(t), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	keys := make([]string, len(blobs))
	for i, b := range blobs {
		keys[i] = b.Key
	}
	return keys
}

// writeRandom streams n random bytes (seeded) into w in chunks of the
// size a multipart reader hands over, and returns their digest.
func writeRandom(t testing.TB, w io.Writer, seed byte, n int) [sha256.Size]byte {
	t.Helper()
	sum := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{seed}), int64(n)), sum)
	if m, err := io.CopyBuffer(w, src, make([]byte, 32<<10)); err != nil || m != int64(n) {
		t.Fatalf("writing %d bytes: wrote %d, %v", n, m, err)
	}
	return [sha256.Size]byte(sum.Sum(nil))
}

// TestConformance runs the suite with a store per subtest, each under a
// prefix of its own, on one server.
func TestConformance(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	storagetest.TestBlobStore(t, func(t *testing.T) storage.BlobStore {
		return openStore(t, srv, path.Base(t.Name())+"/")
	})
}

// TestConformanceShared runs the suite with every subtest on one store
// without a prefix, as the server uses it.
func TestConformanceShared(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	storagetest.TestBlobStore(t, func(t *testing.T) storage.BlobStore { return s })
}

// TestParts: blobs around the part size round-trip, with the right size
// in List, and a multipart upload is started only once a part is full
// and another byte comes.
func TestParts(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "parts/")
	raw := rawClient(t, srv)
	for i, tt := range []struct {
		name      string
		size      int
		multipart bool
	}{
		{"one byte short of a part", s3blob.PartSize - 1, false},
		{"exactly a part", s3blob.PartSize, false},
		{"a part and a byte", s3blob.PartSize + 1, true},
		{"exactly two parts", 2 * s3blob.PartSize, true},
		{"12 MiB", 12 << 20, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "sessions/parts/" + string(rune('a'+i))
			w, err := s.Create(testContext(t), key)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			want := writeRandom(t, w, byte(i), tt.size)
			if pending := pendingUploads(t, raw, srv.Bucket, "parts/"+key); (len(pending) == 1) != tt.multipart {
				t.Errorf("before Commit, multipart uploads %q; want one: %v", pending, tt.multipart)
			}
			wantNotFound(t, s, key)
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := sha256.Sum256(get(t, s, key)); got != want {
				t.Error("the blob read back differs from what was written")
			}
			blobs, err := s.List(testContext(t), key)
			if err != nil || len(blobs) != 1 || blobs[0].Size != int64(tt.size) {
				t.Errorf("List(%q) = %+v, %v; want it with size %d", key, blobs, err, tt.size)
			}
			if pending := pendingUploads(t, raw, srv.Bucket, "parts/"+key); len(pending) != 0 {
				t.Errorf("after Commit, multipart uploads %q are left", pending)
			}
		})
	}
}

// TestAbortMultipart: aborting a writer that has sent parts leaves no
// object and no multipart upload.
func TestAbortMultipart(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	raw := rawClient(t, srv)
	const key = "sessions/abort/img"
	w, err := s.Create(testContext(t), key)
	if err != nil {
		t.Fatal(err)
	}
	writeRandom(t, w, 1, 12<<20)
	if pending := pendingUploads(t, raw, srv.Bucket, key); len(pending) != 1 {
		t.Fatalf("multipart uploads %q, want the writer's", pending)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if pending := pendingUploads(t, raw, srv.Bucket, ""); len(pending) != 0 {
		t.Errorf("after Abort, multipart uploads %q are left", pending)
	}
	wantNotFound(t, s, key)
	if keys := listKeys(t, s, ""); len(keys) != 0 {
		t.Errorf("List after Abort = %q", keys)
	}
}

// TestCancelledWriter: a writer whose context ends between parts fails,
// and leaves nothing: no object, no multipart upload.
func TestCancelledWriter(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	raw := rawClient(t, srv)
	for _, tt := range []struct {
		name string
		size int // written before the context ends
	}{
		{"in the first part", 100_000},
		{"after a part was sent", s3blob.PartSize + 100_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "sessions/cancel/" + strings.ReplaceAll(tt.name, " ", "-")
			ctx, cancel := context.WithCancel(testContext(t))
			w, err := s.Create(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			writeRandom(t, w, 2, tt.size)
			cancel() // the phone went away
			if _, err := w.Write([]byte("more")); !errors.Is(err, context.Canceled) {
				t.Errorf("Write after cancel = %v, want context.Canceled", err)
			}
			if err := w.Commit(); err == nil {
				t.Error("Commit after cancel succeeded")
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after a failure: %v", err)
			}
			wantNotFound(t, s, key)
			if pending := pendingUploads(t, raw, srv.Bucket, key); len(pending) != 0 {
				t.Errorf("multipart uploads %q are left", pending)
			}
		})
	}
	// A context that ends at Commit, before anything was sent.
	ctx, cancel := context.WithCancel(testContext(t))
	w, err := s.Create(ctx, "sessions/cancel/at-commit")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("small")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Commit(); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit after cancel = %v, want context.Canceled", err)
	}
	wantNotFound(t, s, "sessions/cancel/at-commit")

}

// TestPrefix: the URL's prefix is put in front of every key and taken off
// in List, and a store sees nothing outside it.
func TestPrefix(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	a := openStore(t, srv, "deploy/a/")
	b := openStore(t, srv, "deploy/b-")
	all := openStore(t, srv, "")
	put(t, a, "sessions/x/img", []byte("in a"))
	put(t, b, "sessions/x/img", []byte("in b"))
	put(t, all, "sessions/x/img", []byte("at the root"))

	if keys := listKeys(t, a, ""); !slices.Equal(keys, []string{"sessions/x/img"}) {
		t.Errorf("List in a = %q", keys)
	}
	if keys := listKeys(t, b, "sessions/"); !slices.Equal(keys, []string{"sessions/x/img"}) {
		t.Errorf("List in b = %q", keys)
	}
	want := []string{"deploy/a/sessions/x/img", "deploy/b-sessions/x/img", "sessions/x/img"}
	if keys := listKeys(t, all, ""); !slices.Equal(keys, want) {
		t.Errorf("List of the whole bucket = %q, want %q", keys, want)
	}
	if got := get(t, a, "sessions/x/img"); string(got) != "in a" {
		t.Errorf("a's blob = %q", got)
	}
	raw := rawClient(t, srv)
	if _, err := raw.StatObject(testContext(t), srv.Bucket, "deploy/a/sessions/x/img", minio.StatObjectOptions{}); err != nil {
		t.Errorf("the object is not under its prefixed name: %v", err)
	}
	if err := a.Delete(testContext(t), "sessions/x/img"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, a, "sessions/x/img")
	if got := get(t, b, "sessions/x/img"); string(got) != "in b" {
		t.Errorf("b's blob after deleting a's = %q", got)
	}
	if got := get(t, all, "sessions/x/img"); string(got) != "at the root" {
		t.Errorf("the root blob after deleting a's = %q", got)
	}
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "p/")
	ctx := testContext(t)
	bad := []string{
		"", "/", "/etc/passwd", "../secret", "a/../b", "..", ".", "./a", "a//b", "a/", "/a",
		".hidden", "a/.b", "a\\b", "a b", "a\x00b", "sessions/ü", strings.Repeat("a", s3blob.MaxKeyLen-1),
	}
	for _, key := range bad {
		if _, err := s.Create(ctx, key); !errors.Is(err, s3blob.ErrInvalidKey) {
			t.Errorf("Create(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Open(ctx, key); !errors.Is(err, s3blob.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, "sessions/ok", key); !errors.Is(err, s3blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, prefix := range []string{"/", "../", "a//", "a b", "../../secret"} {
		if _, err := s.List(ctx, prefix); !errors.Is(err, s3blob.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
	for _, key := range []string{"a", "sessions/abc-DEF_123/img.thumb.jpg", "x..y", "a-b_c.d/e"} {
		put(t, s, key, []byte(key))
		if got := get(t, s, key); string(got) != key {
			t.Errorf("%q holds %q", key, got)
		}
	}
}

// TestDeleteMany: more keys than one DeleteObjects request takes.
func TestDeleteMany(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("stores 1001 blobs")
	}
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	keys := make([]string, 1001)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range keys {
		keys[i] = "sessions/many/" + string(rune('a'+i%26)) + "-" + strings.Repeat("x", i%7) + "-" + strconv.Itoa(i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			put(t, s, keys[i], []byte{byte(i)})
		})
	}
	wg.Wait()
	if got := listKeys(t, s, "sessions/many/"); len(got) != len(keys) || !slices.IsSorted(got) {
		t.Fatalf("List = %d keys (sorted: %v), want %d", len(got), slices.IsSorted(got), len(keys))
	}
	// With a missing key and a duplicate among them.
	if err := s.Delete(testContext(t), append(keys, "sessions/many/never", keys[0])...); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s, "sessions/many/"); len(got) != 0 {
		t.Errorf("%d keys left after Delete", len(got))
	}
}

// TestStopped: with the server down, every call fails within failBound
// instead of hanging, and after a restart the same store works again.
func TestStopped(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	put(t, s, "sessions/down/kept", []byte("kept"))

	srv.Stop()
	var wg sync.WaitGroup
	for name, call := range outageCalls(t, s) {
		wg.Go(func() {
			start := time.Now()
			err := call()
			took := time.Since(start)
			if err == nil {
				t.Errorf("%s succeeded with the server stopped", name)
			} else if !errors.Is(err, storage.ErrUnavailable) && name != "Ping" {
				t.Errorf("%s failed with %v, want ErrUnavailable (the server answers 503)", name, err)
			} else if took > failBound {
				t.Errorf("%s took %v to fail, want under %v: %v", name, took, failBound, err)
			} else {
				t.Logf("%s failed in %v: %v", name, took.Round(time.Millisecond), err)
			}
		})
	}
	wg.Wait()

	srv.Restart(t)
	if got := get(t, s, "sessions/down/kept"); string(got) != "kept" {
		t.Errorf("after Restart: %q", got)
	}
	put(t, s, "sessions/down/new", []byte("new"))
	if keys := listKeys(t, s, "sessions/down/"); !slices.Equal(keys, []string{"sessions/down/kept", "sessions/down/new"}) {
		t.Errorf("List after Restart = %q", keys)
	}
	if err := s.Ping(testContext(t)); err != nil {
		t.Errorf("Ping after Restart: %v", err)
	}
}

// outageCalls are the calls that must fail, promptly, while the store is
// down or does not answer.
func outageCalls(t *testing.T, s *s3blob.Store) map[string]func() error {
	ctx := testContext(t)
	return map[string]func() error{
		"Open": func() error {
			b, err := s.Open(ctx, "sessions/down/kept")
			if err == nil {
				b.Close()
			}
			return err
		},
		"List":   func() error { _, err := s.List(ctx, "sessions/"); return err },
		"Delete": func() error { return s.Delete(ctx, "sessions/down/kept") },
		"Delete of two": func() error {
			return s.Delete(ctx, "sessions/down/kept", "sessions/down/other")
		},
		"Ping": func() error { return s.Ping(ctx) },
		"Create+Commit": func() error {
			w, err := s.Create(ctx, "sessions/down/small")
			if err != nil {
				return err
			}
			defer w.Abort()
			if _, err := w.Write([]byte("small")); err != nil {
				return err
			}
			return w.Commit()
		},
		"Create+Write of two parts": func() error {
			w, err := s.Create(ctx, "sessions/down/large")
			if err != nil {
				return err
			}
			defer w.Abort()
			if _, err := w.Write(make([]byte, s3blob.PartSize+1)); err != nil {
				return err
			}
			return w.Commit()
		},
	}
}

// TestStalled: a store that accepts connections but stops answering (a
// hung process, a dead route) makes calls fail within a bound too. The
// server is reached through a proxy on loopback that stops forwarding:
// the S3 server is the real one, the fault is in the network.
func TestStalled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the store's timeouts, some 30 s")
	}
	srv := testservers.S3(t)
	p := newStallProxy(t, strings.TrimPrefix(srv.Endpoint, "http://"))
	s := openURL(t, srv, strings.Replace(srv.URL(""), srv.Endpoint, "http://"+p.addr(), 1))
	put(t, s, "sessions/down/kept", []byte("kept"))

	p.stall()
	var wg sync.WaitGroup
	for name, call := range outageCalls(t, s) {
		// A small blob waits for an answer on each of minio-go's tries.
		bound := failBound
		if strings.HasPrefix(name, "Create") {
			bound = 2 * failBound
		}
		wg.Go(func() {
			start := time.Now()
			err := call()
			took := time.Since(start)
			if err == nil {
				t.Errorf("%s succeeded with the store stalled", name)
			} else if took > bound {
				t.Errorf("%s took %v to fail, want under %v: %v", name, took, bound, err)
			} else {
				t.Logf("%s failed in %v: %v", name, took.Round(time.Millisecond), err)
			}
		})
	}
	wg.Wait()

	// The requests given up on are still in the proxy, and reach the
	// server now (the Delete may remove "kept"), as they would from a
	// store that hung and came back: only new keys tell anything.
	p.resume()
	put(t, s, "sessions/after/new", []byte("new"))
	if got := get(t, s, "sessions/after/new"); string(got) != "new" {
		t.Errorf("after the stall: %q", got)
	}
	if keys := listKeys(t, s, "sessions/after/"); !slices.Equal(keys, []string{"sessions/after/new"}) {
		t.Errorf("List after the stall = %q", keys)
	}
}

// stallProxy forwards TCP connections to a server until stall, after
// which it forwards nothing (but keeps accepting) until resume.
type stallProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	open  chan struct{} // closed while bytes flow
	conns map[net.Conn]struct{}
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.open)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.resume()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// wait blocks while the proxy is stalled.
func (p *stallProxy) wait() {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	<-open
}

func (p *stallProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *stallProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go func() {
			p.wait()
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				return
			}
			p.track(up)
			go p.pipe(up, c)
			p.pipe(c, up)
		}()
	}
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestFullStore: a store whose disk is full refuses a blob, small or
// multipart, with storage.ErrInsufficientStorage, and keeps nothing of
// it. versitygw writes every upload in the bucket's .sgwtmp first: that
// directory is made a link to a small tmpfs, filled up.
func TestFullStore(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	full, err := fulldisk.Mount(t, 1<<20, 0)
	if err != nil {
		t.Skipf("no tmpfs to fill, so a full store is not tested: %v", err)
	}
	if err := os.Symlink(full, filepath.Join(srv.Root, srv.Bucket, ".sgwtmp")); err != nil {
		t.Fatal(err)
	}
	fulldisk.Fill(t, filepath.Join(full, "fill"))
	s := openStore(t, srv, "")
	raw := rawClient(t, srv)
	for _, size := range []int{1000, s3blob.PartSize + 1000} {
		key := "sessions/full/" + strconv.Itoa(size)
		w, err := s.Create(testContext(t), key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(make([]byte, size))
		if err == nil {
			err = w.Commit()
		}
		if !errors.Is(err, storage.ErrInsufficientStorage) {
			t.Errorf("storing %d bytes on a full store: %v, want ErrInsufficientStorage", size, err)
		} else {
			t.Logf("storing %d bytes: %v", size, err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
		wantNotFound(t, s, key)
		if pending := pendingUploads(t, raw, srv.Bucket, key); len(pending) != 0 {
			t.Errorf("multipart uploads %q are left", pending)
		}
	}
}

// TestWriterMemory: one writer holds one part, whatever the blob's size.
// Not parallel, since TotalAlloc counts the whole process: the parallel
// tests wait until the others are done.
func TestWriterMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MiB")
	}
	const size, limit = 64 << 20, 40 << 20
	srv := testservers.S3(t)
	s := openStore(t, srv, "")
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	ctx := testContext(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := s.Create(ctx, "sessions/mem/big")
	if err != nil {
		t.Fatal(err)
	}
	for written := 0; written < size; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("writing %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > limit {
		t.Errorf("writing %d MiB allocated %d MiB, want under %d MiB: the writer holds more than a part", size>>20, alloc>>20, limit>>20)
	}
	blobs, err := s.List(ctx, "sessions/mem/")
	if err != nil || len(blobs) != 1 || blobs[0].Size != size {
		t.Errorf("List = %+v, %v; want the blob with size %d", blobs, err, size)
	}
}

// TestOpenURL: what Open refuses, and that its errors name what failed.
func TestOpenURL(t *testing.T) {
	t.Parallel()
	creds := s3blob.WithCredentials("AKEXAMPLE", "SECRETEXAMPLE")
	for _, tt := range []struct {
		url, want string
	}{
		{"s3://bucket?endpoint=http://127.0.0.1:1&regoin=us-east-1", `unknown parameter "regoin"`},
		{"s3://bucket?Prefix=a/", `unknown parameter "Prefix"`},
		{"http://bucket", "scheme"},
		{"s3:bucket", "s3://bucket"},
		{"s3://", "no bucket"},
		{"s3://bucket:9000", "endpoint="},
		{"s3://bucket/some/prefix/", "prefix="},
		{"s3://bucket#x", "fragment"},
		{"s3://ab", "bucket"},
		{"s3://user:hunter2@bucket", "AWS_ACCESS_KEY_ID"},
		{"s3://bucket?endpoint=ftp://127.0.0.1:9000", "endpoint"},
		{"s3://bucket?endpoint=127.0.0.1:9000", "endpoint"},
		{"s3://bucket?endpoint=http://127.0.0.1:9000/s3", "endpoint"},
		{"s3://bucket?endpoint=http://user:hunter2@127.0.0.1:9000", "AWS_ACCESS_KEY_ID"},
		{"s3://bucket?endpoint=", "endpoint is empty"},
		{"s3://bucket?region=", "region is empty"},
		{"s3://bucket?region=us-east-1&region=eu-west-1", "region given 2 times"},
		{"s3://bucket?region=US+East", "region"},
		{"s3://bucket?prefix=/abs/", "prefix"},
		{"s3://bucket?prefix=a//b/", "prefix"},
		{"s3://bucket?prefix=../", "prefix"},
		{"s3://bucket?prefix=a%20b/", "prefix"},
	} {
		s, err := s3blob.Open(testContext(t), tt.url, creds)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tt.url)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) = %v, want it to say %q", tt.url, err, tt.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %v: the error shows the password", tt.url, err)
		}
	}
}

// TestOpenUnreachable: a store that cannot be reached, a bucket that does
// not exist and keys the server refuses fail Open promptly, naming the
// endpoint and the bucket, so that qrsync exits with a message that says
// what to fix.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	srv := testservers.S3(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, tt := range []struct {
		name, url      string
		access, secret string
		want           []string
	}{
		{"nothing listens", "s3://qrsync-test?endpoint=" + closed, srv.AccessKey, srv.SecretKey, []string{closed, "qrsync-test"}},
		{"no such bucket", "s3://no-such-bucket?endpoint=" + srv.Endpoint, srv.AccessKey, srv.SecretKey, []string{srv.Endpoint, "no-such-bucket", "no such bucket"}},
		{"wrong secret", srv.URL(""), srv.AccessKey, "wrong" + srv.SecretKey, []string{srv.Endpoint, srv.Bucket}},
		// versitygw answers a HEAD with an unknown key 404, as for a
		// missing bucket: the message must not say the bucket is missing.
		{"unknown key", srv.URL(""), "AKNOBODY", srv.SecretKey, []string{srv.Endpoint, srv.Bucket, "access key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			s, err := s3blob.Open(testContext(t), tt.url, s3blob.WithCredentials(tt.access, tt.secret))
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open = %v, want it to name %q", err, w)
				}
			}
			if took > failBound {
				t.Errorf("Open took %v to fail", took)
			}
			t.Logf("failed in %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// TestEnvCredentials: without WithCredentials, the keys come from the
// environment, and their absence is a clear error. Not parallel, for
// t.Setenv.
func TestEnvCredentials(t *testing.T) {
	srv := testservers.S3(t)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	if _, err := s3blob.Open(testContext(t), srv.URL("")); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("Open without AWS_ACCESS_KEY_ID = %v, want it named", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := s3blob.Open(testContext(t), srv.URL("")); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("Open without AWS_SECRET_ACCESS_KEY = %v, want it named", err)
	}
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	s, err := s3blob.Open(testContext(t), srv.URL("env/"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "k", []byte("v"))
	if got := get(t, s, "k"); !bytes.Equal(got, []byte("v")) {
		t.Errorf("k = %q", got)
	}
}

func BenchmarkCreateCommit4MB(b *testing.B) {
	srv := testservers.S3(b)
	s := openStore(b, srv, "bench/")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	chunk := 32 << 10
	b.SetBytes(int64(len(data)))
	ctx := testContext(b)
	i := 0
	for b.Loop() {
		i++
		w, err := s.Create(ctx, "sessions/bench/img"+strconv.Itoa(i%26))
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(data); off += chunk {
			if _, err := w.Write(data[off:min(off+chunk, len(data))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
