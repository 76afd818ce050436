//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"qrsync/api"
	"qrsync/internal/apptest"
	"qrsync/internal/browsertest"
	"qrsync/internal/testservers"
)

// The tests in this file run qrsync as it is run behind a load balancer:
// real qrsync processes sharing a real redis-server (the catalog) and a
// real S3 server (versitygw, the blobs), all on loopback.

// sharedBackends is one Redis and one S3 bucket, and how to start
// instances on them.
type sharedBackends struct {
	redis *testservers.RedisServer
	s3    *testservers.S3Server
	bin   string
}

func newSharedBackends(t *testing.T, redisOpts ...testservers.RedisOption) *sharedBackends {
	t.Helper()
	return &sharedBackends{redis: testservers.Redis(t, redisOpts...), s3: testservers.S3(t), bin: buildQrsync(t)}
}

// instance starts one more qrsync on the shared backends, with its own
// port and --data (which holds nothing but what the command makes there).
func (b *sharedBackends) instance(t *testing.T, extra ...string) *qrsyncProc {
	t.Helper()
	args := append([]string{"--catalog", b.redis.URL(), "--blob", b.s3.URL("")}, extra...)
	return startQrsyncEnv(t, b.bin, freeAddr(t), t.TempDir(), b.s3.Env(), args...)
}

// objects lists what the bucket holds, pending multipart uploads included
// (versitygw keeps those in hidden directories of the bucket).
func (b *sharedBackends) objects(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(b.s3.Root, b.s3.Bucket)
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// wantObjects checks that the bucket holds exactly each image's original
// and thumbnail: nothing partial, nothing orphaned.
func (b *sharedBackends) wantObjects(t *testing.T, sessionID string, images []api.Image) {
	t.Helper()
	var want []string
	for _, img := range images {
		want = append(want, "sessions/"+sessionID+"/"+img.ID, "sessions/"+sessionID+"/"+img.ID+".thumb.jpg")
	}
	slices.Sort(want)
	if got := b.objects(t); !slices.Equal(got, want) {
		t.Errorf("objects in the bucket:\n got %q\nwant %q", got, want)
	}
}

// uploadTimed uploads photo i and returns the image and when the answer
// arrived.
func uploadTimed(t *testing.T, p *qrsyncProc, s api.Session, i int) (api.Image, time.Time) {
	t.Helper()
	name, data := apptest.Photo(t, i)
	img := p.MustUpload(s, name, data)
	return img, time.Now()
}

// percentile is the p-th percentile (0–100) of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

// Two instances on one Redis and one S3: the PC's stream held by B sees
// every upload made through A, in order, once. Then B is killed with
// SIGKILL while uploads go on through A; the stream client reconnects to A
// with its last id and ends with every image exactly once.
func TestScaleOutTwoInstances(t *testing.T) {
	t.Parallel()
	be := newSharedBackends(t)
	a, b := be.instance(t), be.instance(t)

	s := a.NewSession()
	rec := startRecorder(t, b.Base+s.EventsURL, a.Base+s.EventsURL)
	waitFor(t, "the snapshot through B", func() bool { return rec.snapshots() == 1 })

	// Through A, seen on B.
	const live, during = 40, 20
	answered := map[string]time.Time{}
	var order []string
	for i := range live {
		img, at := uploadTimed(t, a, s, i)
		answered[img.ID] = at
		order = append(order, img.ID)
	}
	waitFor(t, "B to deliver every upload made through A", func() bool { return len(rec.images()) == live })
	if got := rec.images(); !slices.Equal(got, order) {
		t.Fatalf("B delivered\n %q\nwant the uploads through A, in order, once:\n %q", got, order)
	}
	arrived := rec.imageArrivals()
	var lat []time.Duration
	for id, at := range answered {
		lat = append(lat, arrived[id].Sub(at))
	}
	slices.Sort(lat)

	// B dies mid-session; A goes on taking uploads; the client moves to A.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		for i := live; i < live+during; i++ {
			img, _ := uploadTimed(t, a, s, i)
			mu.Lock()
			order = append(order, img.ID)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	time.Sleep(100 * time.Millisecond)
	b.kill()
	wg.Wait()
	waitFor(t, "the client to resume on A and catch up", func() bool { return rec.lives() >= 2 && len(rec.images()) >= live+during })
	time.Sleep(500 * time.Millisecond) // a repeated event would arrive now

	var sess api.Session
	a.GetJSON(api.SessionPath(s.ID), &sess)
	var catalog []string
	for _, img := range sess.Images {
		catalog = append(catalog, img.ID)
	}
	if !slices.Equal(catalog, order) {
		t.Fatalf("the catalog's order %q differs from the order of the answers %q", catalog, order)
	}
	if got := rec.images(); !slices.Equal(got, catalog) {
		t.Errorf("after the kill the client has\n %q\nwant every image once, in order:\n %q", got, catalog)
	}
	if n := rec.snapshots(); n != 1 {
		t.Errorf("%d snapshots: the resumed stream started over", n)
	}
	if !rec.resumedRight() {
		t.Errorf("reconnects sent Last-Event-ID %q, having received up to %q", rec.sentIDs(), rec.hadIDs())
	}
	be.wantObjects(t, s.ID, sess.Images)
	sent := rec.sentIDs()
	resumedAt := sent[len(sent)-1]
	total := len(rec.allIDs())
	t.Logf("two instances: %d uploads through A; %d events delivered, %d by B and then %d by A, where the client resumed from id %s after B was killed; "+
		"upload answered → event received on B, over the first %d: p50 %v, p99 %v (min %v, max %v; negative: the event came first)",
		live+during, total, total-rec.after(resumedAt), rec.after(resumedAt), resumedAt, live,
		percentile(lat, 50).Round(100*time.Microsecond), percentile(lat, 99).Round(100*time.Microsecond),
		lat[0].Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
}

// The instance's Redis connections are killed mid-stream, then Redis
// itself goes away and comes back: the stream resumes without loss; while
// Redis is down uploads and new streams answer 503 at once, /readyz names
// the catalog, and nothing is left in S3.
func TestScaleOutRedisOutage(t *testing.T) {
	t.Parallel()
	be := newSharedBackends(t, testservers.Persistent())
	a := be.instance(t)
	s := a.NewSession()
	rec := startRecorder(t, a.Base+s.EventsURL)
	waitFor(t, "the snapshot", func() bool { return rec.snapshots() == 1 })
	var want []string
	upload := func(i int) {
		img, _ := uploadTimed(t, a, s, i)
		want = append(want, img.ID)
	}
	upload(0)
	upload(1)
	waitFor(t, "the first two images", func() bool { return len(rec.images()) == 2 })

	// Every client connection Redis has, the instance's pool, its
	// blocking reader and its pub/sub, cut at once.
	killed := be.redis.Do(t, "CLIENT", "KILL", "TYPE", "normal")
	killedPubSub := be.redis.Do(t, "CLIENT", "KILL", "TYPE", "pubsub")
	upload(2)
	upload(3)
	waitFor(t, "the images after CLIENT KILL", func() bool { return len(rec.images()) == 4 })
	if got := rec.images(); !slices.Equal(got, want) {
		t.Fatalf("after CLIENT KILL the stream has %q, want %q", got, want)
	}

	// Redis down: 503 within a bound that tells failing from hanging.
	be.redis.Stop()
	name, data := apptest.Photo(t, 99)
	start := time.Now()
	status, body, err := a.Upload(s, name, data)
	took := time.Since(start)
	if err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("upload with Redis down: %d %s %v, want 503", status, body, err)
	}
	if took > 10*time.Second {
		t.Errorf("the upload took %v to fail, want a prompt 503", took)
	}
	resp, ready := a.Do(http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(ready), "catalog") {
		t.Errorf("/readyz with Redis down: %d %s, want 503 naming the catalog", resp.StatusCode, ready)
	}
	resp, _ = a.Do(http.MethodPost, api.SessionsPath, nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new session with Redis down: %d, want 503", resp.StatusCode)
	}
	be.wantObjectsByID(t, s.ID, want)
	t.Logf("CLIENT KILL cut %s normal and %s pub/sub connections; with Redis stopped an upload answered %d in %v",
		killed, killedPubSub, status, took.Round(time.Millisecond))

	// Back by itself, the stream resumes where it was.
	be.redis.Restart(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		name, data := apptest.Photo(t, 4)
		status, body, err := a.Upload(s, name, data)
		if err == nil && status == http.StatusCreated {
			var res api.UploadResult
			mustJSON(t, body, &res)
			want = append(want, res.Images[0].ID)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance did not recover after Redis came back: %d %s %v", status, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitFor(t, "the stream to resume after the outage", func() bool { return len(rec.images()) >= len(want) })
	time.Sleep(300 * time.Millisecond)
	if got := rec.images(); !slices.Equal(got, want) {
		t.Errorf("after the outage the stream has %q, want %q", got, want)
	}
	if n := rec.snapshots(); n != 1 {
		t.Errorf("%d snapshots: the stream started over instead of resuming", n)
	}
}

// wantObjectsByID is wantObjects for image ids.
func (b *sharedBackends) wantObjectsByID(t *testing.T, sessionID string, ids []string) {
	t.Helper()
	images := make([]api.Image, len(ids))
	for i, id := range ids {
		images[i] = api.Image{ID: id}
	}
	b.wantObjects(t, sessionID, images)
}

// 2,000 streams on one instance hold a small, bounded number of Redis
// connections, and one upload reaches all of them.
func TestScaleOutManyStreams(t *testing.T) {
	t.Parallel()
	streams := 2000
	if testing.Short() {
		streams = 300
	}
	be := newSharedBackends(t)
	a := be.instance(t, "--max-conns", "8192", "--max-conns-per-address", "8192")
	s := a.NewSession()
	addr := strings.TrimPrefix(a.Base, "http://")

	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	conns := make([]conn, 0, streams)
	t.Cleanup(func() {
		for _, c := range conns {
			c.c.Close()
		}
	})
	for range streams {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", s.EventsURL, addr)
		r := bufio.NewReader(c)
		if err := readUntil(c, r, "event: snapshot", 30*time.Second); err != nil {
			t.Fatalf("stream %d: %v", len(conns), err)
		}
		conns = append(conns, conn{c, r})
	}
	time.Sleep(time.Second) // every stream is now waiting on the log
	clients := be.redis.Do(t, "CLIENT", "LIST")
	n := strings.Count(clients, "\n") // one line per client; the listing's own connection is one of them
	const bound = 40
	if n > bound {
		t.Errorf("%d streams hold %d Redis connections, want at most %d:\n%s", streams, n, bound, clients)
	}

	img, _ := uploadTimed(t, a, s, 0)
	var wg sync.WaitGroup
	var missed sync.Map
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			if err := readUntil(c.c, c.r, img.ID, 60*time.Second); err != nil {
				missed.Store(i, err)
			}
		})
	}
	wg.Wait()
	count := 0
	missed.Range(func(k, v any) bool {
		if count++; count <= 3 {
			t.Errorf("stream %v never got the image: %v", k, v)
		}
		return true
	})
	t.Logf("%d streams on one instance held %d Redis connections (CLIENT LIST, this test's own included); one upload reached %d of them in %v",
		streams, n, streams-count, time.Since(start).Round(time.Millisecond))
}

// readUntil reads lines from a stream until one contains want.
func readUntil(c net.Conn, r *bufio.Reader, want string, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.Contains(line, want) {
			return nil
		}
	}
}

// The wasm PC page in Chromium, served by B, shows the photos uploaded
// through A, live: the page, its stream and the photos' bytes all come
// from B, which holds nothing of its own.
func TestScaleOutPCPageOnB(t *testing.T) {
	t.Parallel()
	be := newSharedBackends(t)
	a, b := be.instance(t), be.instance(t)
	pc, _ := openPCPage(t, browsertest.Chromium(t), b.Base)
	var s api.Session
	a.GetJSON(api.SessionPath(pcSession(t, pc)), &s)
	for i := range 3 {
		uploadTimed(t, a, s, i)
		until(t, pc, fmt.Sprintf("photo %d, uploaded through A, on B's page", i+1), fmt.Sprintf(`%s === %d`, tilesExpr, i+1))
	}
	// The thumbnails drew: B read them from S3.
	until(t, pc, "every thumbnail drawn", `[...document.querySelectorAll('#gallery li.tile img')].every(i => i.complete && i.naturalWidth > 0)`)
	screenshot(t, pc, "pc-page-on-b.png")
}

// S3 going away mid-session: uploads answer 503 promptly, /readyz names
// the blob store, the photos already stored answer 503 rather than hang,
// and all of it recovers by itself when S3 is back.
func TestScaleOutS3Outage(t *testing.T) {
	t.Parallel()
	be := newSharedBackends(t)
	a := be.instance(t)
	s := a.NewSession()
	kept, _ := uploadTimed(t, a, s, 0)

	be.s3.Stop()
	name, data := apptest.Photo(t, 1)
	start := time.Now()
	status, body, err := a.Upload(s, name, data)
	took := time.Since(start)
	if err != nil || status != http.StatusServiceUnavailable || took > 20*time.Second {
		t.Errorf("upload with S3 down: %d %s %v after %v, want a prompt 503", status, body, err, took)
	}
	resp, ready := a.Do(http.MethodGet, "/readyz", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(ready), "blob") {
		t.Errorf("/readyz with S3 down: %d %s, want 503 naming the blob store", resp.StatusCode, ready)
	}
	// (The upload's answer carries no URLs: it went to the phone.)
	resp, thumb := a.Do(http.MethodGet, api.ImagePath(s.ID, kept.ID)+"/thumb", nil, "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a thumbnail with S3 down: %d (%d bytes, %q), want 503", resp.StatusCode, len(thumb), resp.Header)
	}
	t.Logf("with S3 stopped an upload answered %d in %v", status, took.Round(time.Millisecond))

	be.s3.Restart(t)
	waitFor(t, "/readyz after S3 came back", func() bool {
		resp, _ := a.Do(http.MethodGet, "/readyz", nil, "")
		return resp.StatusCode == http.StatusOK
	})
	again, _ := uploadTimed(t, a, s, 1)
	var sess api.Session
	a.GetJSON(api.SessionPath(s.ID), &sess)
	if len(sess.Images) != 2 || sess.Images[1].ID != again.ID {
		t.Fatalf("after the outage the session has %d images, want the one before and the one after", len(sess.Images))
	}
	be.wantObjects(t, s.ID, sess.Images)
}
