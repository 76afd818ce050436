//go:build linux

package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"qrsync/internal/chaosproxy"
	"qrsync/internal/testservers"
	"qrsync/storage"
	"qrsync/storage/redis"
	"qrsync/storage/storagetest"
)

// The catalog is the suite's Catalog, and News is the server's News (the
// server's interface, restated: this package must not import the server).
var (
	_ storagetest.Catalog = (*redis.Catalog)(nil)
	_ interface {
		Publish(ctx context.Context, sessionID string, data []byte) error
		Subscribe(sessionID string, deliver func(data []byte)) (cancel func())
	} = (*redis.News)(nil)
)

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// uniquePrefix keeps the handles of one test apart from another's on a
// shared server.
func uniquePrefix() string { return "t" + randomID()[:12] + ":" }

func openCatalog(t testing.TB, srv *testservers.RedisServer, prefix string, opts ...redis.Option) *redis.Catalog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := redis.Open(ctx, srv.URL()+"?prefix="+prefix, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

func newSession(t *testing.T, c *redis.Catalog) storage.Session {
	t.Helper()
	s := storage.Session{ID: randomID(), UploadToken: randomID(), CreatedAt: now(),
		UploadExpiresAt: now().Add(time.Hour), ExpiresAt: now().Add(time.Hour)}
	if err := c.CreateSession(testContext(t), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

func newImage(size int64) storage.Image {
	id := randomID()
	return storage.Image{ID: id, Name: "IMG_" + id[:6] + ".jpg", ContentType: "image/jpeg", Size: size,
		SHA256: randomID() + randomID(), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

// waitFor polls cond until it holds, failing t after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// qrsyncConns counts the server's client connections that a catalog made
// (go-redis names them "qrsync").
func qrsyncConns(t *testing.T, srv *testservers.RedisServer) int {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(srv.Do(t, "CLIENT", "LIST"), "\n") {
		if strings.Contains(line, " name=qrsync ") {
			n++
		}
	}
	return n
}

type readResult struct {
	evs []storage.Event
	err error
}

func blockedReads(ctx context.Context, c *redis.Catalog, sessionID, after string, n int) <-chan readResult {
	out := make(chan readResult, n)
	for range n {
		go func() {
			evs, err := c.Read(ctx, sessionID, after, 0)
			out <- readResult{evs, err}
		}()
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	storagetest.TestCatalog(t, func(t *testing.T) storagetest.Catalog {
		return openCatalog(t, srv, uniquePrefix())
	})
}

// TestShared runs the suite of what instances sharing one Redis owe each
// other: two handles on one server and prefix, as two processes hold them.
func TestShared(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	storagetest.TestSharedCatalog(t, func(t *testing.T) (a, b storagetest.Catalog) {
		p := uniquePrefix()
		return openCatalog(t, srv, p), openCatalog(t, srv, p)
	})
}

// TestManyReaders: thousands of blocked Reads hold a handful of
// connections, and one append wakes every one of them with the event.
func TestManyReaders(t *testing.T) {
	t.Parallel()
	n := 2000
	if testing.Short() {
		n = 300
	}
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix())
	s := newSession(t, c)
	ctx := testContext(t)

	start := time.Now()
	results := blockedReads(ctx, c, s.ID, "", n)
	waitFor(t, 30*time.Second, "every reader to block", func() bool { return redis.Waiters(c) == n })
	blocked := time.Since(start)
	conns := qrsyncConns(t, srv)
	t.Logf("%d blocked Reads (blocked within %v) hold %d Redis connections", n, blocked.Round(time.Millisecond), conns)
	if limit := redis.DefaultPoolSize + 3; conns > limit {
		t.Errorf("%d blocked Reads hold %d connections, want at most %d (the pool and the hub)", n, conns, limit)
	}

	start = time.Now()
	_, ev, err := c.AddImage(ctx, s.ID, newImage(1), storage.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(30 * time.Second)
	for i := range n {
		select {
		case r := <-results:
			if r.err != nil || len(r.evs) != 1 || r.evs[0].ID != ev.ID {
				t.Fatalf("reader %d got %+v, %v; want the one event %q", i, r.evs, r.err, ev.ID)
			}
		case <-timeout:
			t.Fatalf("only %d of %d readers woke within 30 s of the append", i, n)
		}
	}
	t.Logf("one AddImage woke all %d readers in %v", n, time.Since(start).Round(time.Millisecond))
}

// TestKick: a stream that starts being watched while the hub is blocked on
// others is covered at once, not after the BLOCK runs out.
func TestKick(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix(), redis.WithBlock(20*time.Second))
	first, second := newSession(t, c), newSession(t, c)
	ctx := testContext(t)
	blockedReads(ctx, c, first.ID, "", 1)
	waitFor(t, 10*time.Second, "the first reader to block", func() bool { return redis.Waiters(c) == 1 })
	time.Sleep(100 * time.Millisecond) // the hub is in its 20 s BLOCK now
	results := blockedReads(ctx, c, second.ID, "", 1)
	waitFor(t, 10*time.Second, "the second reader to block", func() bool { return redis.Waiters(c) == 2 })
	start := time.Now()
	if _, _, err := c.AddImage(ctx, second.ID, newImage(1), storage.Quota{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.err != nil || len(r.evs) != 1 {
			t.Fatalf("Read = %+v, %v", r.evs, r.err)
		}
		t.Logf("a newly watched stream woke %v after its append", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("a stream watched during the hub's BLOCK was not covered until the BLOCK ran out")
	}
}

// TestKilledConnections kills every connection of the handle (CLIENT
// KILL, ordinary and pub/sub) while readers wait, round after round:
// followers still see every event of the log, in order, once each, and
// News comes back.
func TestKilledConnections(t *testing.T) {
	t.Parallel()
	const sessions = 3
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix())
	news := c.News()
	ctx := testContext(t)
	var ss []storage.Session
	for range sessions {
		ss = append(ss, newSession(t, c))
	}
	newsGot := make(chan []byte, 256)
	defer news.Subscribe(ss[0].ID, func(d []byte) {
		select {
		case newsGot <- d:
		default:
		}
	})()
	waitNews(t, news, ss[0].ID, newsGot, "before any kill")

	// Each follower reads its session's log from the start until it has
	// one event per round.
	follow := make([]chan []storage.Event, sessions)
	for i, s := range ss {
		follow[i] = make(chan []storage.Event, 1)
		go func() {
			var got []storage.Event
			after := ""
			for len(got) < rounds {
				evs, err := c.Read(ctx, s.ID, after, 0)
				if err != nil {
					// The kill may fail a look at the log; the next one
					// must find everything.
					if ctx.Err() != nil {
						break
					}
					t.Logf("a follower's Read after a kill: %v (looking again)", err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				got = append(got, evs...)
				after = evs[len(evs)-1].ID
			}
			follow[i] <- got
		}()
	}

	var appended [sessions][]string
	for round := range rounds {
		waitFor(t, 15*time.Second, "the followers to block", func() bool { return redis.Waiters(c) == sessions })
		kills := [][]string{{"CLIENT", "KILL", "TYPE", "normal"}, {"CLIENT", "KILL", "TYPE", "pubsub"}}
		if round%2 == 1 {
			// By address too, each of the handle's connections.
			kills = nil
			for line := range strings.SplitSeq(srv.Do(t, "CLIENT", "LIST"), "\n") {
				if strings.Contains(line, " name=qrsync ") {
					for f := range strings.FieldsSeq(line) {
						if addr, ok := strings.CutPrefix(f, "addr="); ok {
							kills = append(kills, []string{"CLIENT", "KILL", "ADDR", addr})
						}
					}
				}
			}
		}
		killed := 0
		for _, k := range kills {
			if n, err := strconv.Atoi(srv.Do(t, k...)); err == nil {
				killed += n
			} else {
				killed++ // CLIENT KILL ADDR answers OK
			}
		}
		// Proof that the kills happened: which of the handle's
		// connections exist at this moment depends on what is redialled.
		if killed < 1 {
			t.Fatalf("round %d killed %d connections, want the handle's every one", round, killed)
		}
		for i, s := range ss {
			ev := addRetrying(t, c, s.ID)
			appended[i] = append(appended[i], ev.ID)
		}
	}
	for i := range ss {
		select {
		case got := <-follow[i]:
			ids := make([]string, len(got))
			for j, ev := range got {
				ids[j] = ev.ID
			}
			if !slices.Equal(ids, appended[i]) {
				t.Errorf("session %d: the follower saw %q, want every append once, in order: %q", i, ids, appended[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("session %d: the follower did not see all %d appends", i, rounds)
		}
	}
	waitNews(t, news, ss[0].ID, newsGot, "after the kills")
}

// addRetrying adds an image, trying again for a while if the write fails:
// right after a kill, one may. A write that failed must not have been
// logged (the followers would see an extra event).
func addRetrying(t *testing.T, c *redis.Catalog, sessionID string) storage.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ev, err := c.AddImage(testContext(t), sessionID, newImage(1), storage.Quota{})
		if err == nil {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("AddImage keeps failing: %v", err)
		}
		t.Logf("AddImage after a kill: %v (trying again)", err)
		time.Sleep(50 * time.Millisecond)
	}
}

// waitNews publishes on the session until the subscriber's channel hears
// it: a subscription is made in the background, and pub/sub keeps nothing
// for a subscriber not yet (or no longer) connected.
func waitNews(t *testing.T, n *redis.News, sessionID string, got <-chan []byte, when string) time.Duration {
	t.Helper()
	start := time.Now()
	want := []byte(`{"upload":"` + randomID() + `"}`)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for {
		_ = n.Publish(t.Context(), sessionID, want)
		for {
			select {
			case d := <-got:
				if bytes.Equal(d, want) {
					return time.Since(start)
				}
				continue // an earlier round's word
			case <-tick.C:
			case <-deadline:
				t.Fatalf("news %s did not arrive within 20 s", when)
			}
			break
		}
	}
}

// TestOutage stops Redis under a handle: blocked Reads and new calls fail
// within seconds instead of hanging, and once Redis is back the same
// handle works again by itself (the server kept nothing, so the test
// proves recovery, not data).
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix())
	news := c.News()
	ctx := testContext(t)
	s := newSession(t, c)
	const readers = 5
	results := blockedReads(ctx, c, s.ID, "", readers)
	waitFor(t, 10*time.Second, "the readers to block", func() bool { return redis.Waiters(c) == readers })

	srv.Stop()
	stopped := time.Now()
	for i := range readers {
		select {
		case r := <-results:
			if !errors.Is(r.err, storage.ErrUnavailable) {
				t.Errorf("blocked Read during the outage = %+v, %v; want ErrUnavailable", r.evs, r.err)
			}
			if i == 0 {
				t.Logf("a blocked Read failed %v after the stop: %v", time.Since(stopped).Round(time.Millisecond), r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d blocked Reads still hang 10 s after Redis stopped", readers-i)
		}
	}
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", c.Ping},
		{"Session", func(ctx context.Context) error { _, err := c.Session(ctx, s.ID); return err }},
		{"SessionByToken", func(ctx context.Context) error { _, err := c.SessionByToken(ctx, s.UploadToken); return err }},
		{"AddImage", func(ctx context.Context) error {
			_, _, err := c.AddImage(ctx, s.ID, newImage(1), storage.Quota{})
			return err
		}},
		{"Read", func(ctx context.Context) error { _, err := c.Read(ctx, s.ID, "", 0); return err }},
		{"CreateSession", func(ctx context.Context) error {
			return c.CreateSession(ctx, storage.Session{ID: randomID(), UploadToken: randomID(), ExpiresAt: now().Add(time.Hour)})
		}},
		{"Publish", func(ctx context.Context) error { return news.Publish(ctx, s.ID, []byte("{}")) }},
	}
	for _, call := range calls {
		start := time.Now()
		err := call.call(ctx)
		took := time.Since(start)
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s during the outage = %v, want ErrUnavailable (the server answers 503)", call.name, err)
		}
		if took > 10*time.Second {
			t.Errorf("%s during the outage took %v", call.name, took)
		}
		t.Logf("%s during the outage: %v after %v", call.name, err, took.Round(time.Millisecond))
	}
	// News subscriptions made during the outage take effect once it ends.
	newsGot := make(chan []byte, 64)
	defer news.Subscribe("after-outage", func(d []byte) {
		select {
		case newsGot <- d:
		default:
		}
	})()

	srv.Restart(t)
	restarted := time.Now()
	var s2 storage.Session
	waitFor(t, 15*time.Second, "CreateSession to work again", func() bool {
		s2 = storage.Session{ID: randomID(), UploadToken: randomID(), CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}
		return c.CreateSession(ctx, s2) == nil
	})
	t.Logf("the handle worked again %v after the restart", time.Since(restarted).Round(time.Millisecond))
	results = blockedReads(ctx, c, s2.ID, "", 1)
	waitFor(t, 10*time.Second, "a reader to block", func() bool { return redis.Waiters(c) == 1 })
	_, ev, err := c.AddImage(ctx, s2.ID, newImage(1), storage.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.err != nil || len(r.evs) != 1 || r.evs[0].ID != ev.ID {
			t.Errorf("Read after the restart = %+v, %v; want %q", r.evs, r.err, ev.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a blocked Read did not wake after the restart: the hub did not recover")
	}
	waitNews(t, news, "after-outage", newsGot, "after the restart")
	t.Logf("news flowed again %v after the restart", time.Since(restarted).Round(time.Millisecond))
}

// TestNews: news published through one handle reaches subscribers of that
// session on another, and only them; cancel stops delivery.
func TestNews(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	p := uniquePrefix()
	a, b := openCatalog(t, srv, p), openCatalog(t, srv, p)
	elsewhere := openCatalog(t, srv, uniquePrefix())
	session, other := randomID(), randomID()

	var mu sync.Mutex
	counts := map[string]int{}
	counter := func(name string, ch chan []byte) func([]byte) {
		return func(d []byte) {
			mu.Lock()
			counts[name]++
			mu.Unlock()
			if ch != nil {
				select {
				case ch <- d:
				default:
				}
			}
		}
	}
	got1, got2 := make(chan []byte, 256), make(chan []byte, 256)
	cancel1 := b.News().Subscribe(session, counter("first", got1))
	cancel2 := b.News().Subscribe(session, counter("second", got2))
	defer cancel2()
	defer b.News().Subscribe(other, counter("other session", nil))()
	defer elsewhere.News().Subscribe(session, counter("other prefix", nil))()
	_ = b.News().Subscribe(session, counter("cancelled at once", nil))
	cancelNow := b.News().Subscribe(session, counter("cancelled", nil))
	cancelNow()
	cancelNow() // twice is harmless

	took := waitNews(t, a.News(), session, got1, "across handles")
	t.Logf("news crossed handles %v after subscribing", took.Round(time.Millisecond))
	waitNews(t, a.News(), session, got2, "to the second subscriber")

	cancel1()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	before := counts["first"]
	mu.Unlock()
	waitNews(t, a.News(), session, got2, "after the first cancelled")
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if counts["first"] != before {
		t.Errorf("a cancelled subscriber got %d more messages", counts["first"]-before)
	}
	for _, name := range []string{"other session", "other prefix", "cancelled"} {
		if counts[name] != 0 {
			t.Errorf("subscriber %q got %d messages, want none", name, counts[name])
		}
	}
}

// TestOpen: a Redis that is down fails Open within seconds, naming the
// address and never the password; a bad URL fails before any dial.
func TestOpen(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	c, err := redis.Open(context.Background(), "redis://user:sekrit@"+addr+"/0")
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Fatal("Open with Redis down succeeded")
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "sekrit") || !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Open error %q: want ErrUnavailable naming the address %s, and no password", err, addr)
	}
	if took > 5*time.Second {
		t.Errorf("Open with Redis down took %v", took)
	}
	t.Logf("Open with Redis down failed after %v: %v", took.Round(time.Millisecond), err)

	for _, u := range []string{
		"redis://" + addr + "/0?nosuch=1",
		"redis://" + addr + "/notanumber",
		"http://" + addr + "/0",
		"redis://user:sekrit@[::1/0",
	} {
		start := time.Now()
		c, err := redis.Open(context.Background(), u)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("Open(%q) error %q shows the password", u, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Open(%q) took %v to refuse a bad URL", u, d)
		}
	}
}

// TestKeys checks the layout where it matters for operations: the prefix
// is the URL's, and the backstop TTLs sit well past the session's end,
// move with it, and shrink to the tombstone's once it is deleted.
func TestKeys(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	p := uniquePrefix()
	c := openCatalog(t, srv, p)
	ctx := testContext(t)
	s := newSession(t, c)
	tag := "{" + s.ID + "}"
	pttl := func(key string) time.Duration {
		t.Helper()
		ms, err := strconv.ParseInt(srv.Do(t, "PTTL", key), 10, 64)
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if d := got - want; d < -time.Minute || d > time.Minute {
			t.Errorf("%s: TTL %v, want about %v", what, got, want)
		}
	}
	untilEnd := func(at time.Time) time.Duration { return time.Until(at) }

	if keys := srv.Do(t, "KEYS", p+"*"); !strings.Contains(keys, p+"s:"+tag) {
		t.Fatalf("keys under the prefix: %q", keys)
	}
	near("record", pttl(p+"s:"+tag), untilEnd(s.ExpiresAt)+redis.DefaultGrace)
	near("token", pttl(p+"t:"+s.UploadToken), untilEnd(s.ExpiresAt)+redis.DefaultGrace)
	if _, _, err := c.AddImage(ctx, s.ID, newImage(10), storage.Quota{}); err != nil {
		t.Fatal(err)
	}
	near("log", pttl(p+"e:"+tag), untilEnd(s.ExpiresAt)+redis.DefaultGrace)
	near("gallery", pttl(p+"i:"+tag), untilEnd(s.ExpiresAt)+redis.DefaultGrace)
	near("size index", pttl(p+"z:"+tag), untilEnd(s.ExpiresAt)+redis.DefaultGrace)

	later := s.ExpiresAt.Add(48 * time.Hour)
	if _, _, err := c.ExtendSession(ctx, s.ID, later); err != nil {
		t.Fatal(err)
	}
	token2 := randomID()
	if _, _, err := c.RenewUploadLink(ctx, s.ID, token2, later); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"s:" + tag, "e:" + tag, "i:" + tag, "o:" + tag, "h:" + tag, "z:" + tag, "k:" + tag, "t:" + s.UploadToken, "t:" + token2} {
		near("after ExtendSession: "+k, pttl(p+k), untilEnd(later)+redis.DefaultGrace)
	}

	until := now().Add(2 * time.Hour)
	if err := c.DeleteSession(ctx, s.ID, until); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"x:" + tag, "k:" + tag, "t:" + s.UploadToken, "t:" + token2} {
		near("tombstone: "+k, pttl(p+k), untilEnd(until)+time.Hour)
	}
	for _, k := range []string{"s:" + tag, "i:" + tag, "o:" + tag, "h:" + tag, "z:" + tag} {
		if got := srv.Do(t, "EXISTS", p+k); got != "0" {
			t.Errorf("%s survives DeleteSession", k)
		}
	}
	if got := pttl(p + "e:" + tag); got <= 0 || got > 5*time.Minute {
		t.Errorf("the deleted log's stub has TTL %v, want a few minutes", got)
	}
	if err := c.PurgeTombstones(ctx, until); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Do(t, "KEYS", p+"*"); keys != "(empty array)" {
		// The expiry and tombstone sets go with their last member.
		t.Errorf("keys left after the purge: %q", keys)
	}
}

// TestEventIDs: ids are the stream's own, so any instance (and a browser's
// Last-Event-ID) can resume from them; foreign spellings are ErrEventGone.
func TestEventIDs(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix())
	ctx := testContext(t)
	s := newSession(t, c)
	_, ev, err := c.AddImage(ctx, s.ID, newImage(1), storage.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	ms, seq, ok := strings.Cut(ev.ID, "-")
	if _, err := strconv.ParseUint(ms, 10, 64); !ok || err != nil {
		t.Fatalf("event id %q is not a stream id", ev.ID)
	}
	for _, bad := range []string{ms, ms + "-0" + seq, " " + ev.ID, ms + "-" + seq + "-1", "0-0", "-", ms + "-"} {
		if bad == ev.ID {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Read(rctx, s.ID, bad, 0)
		cancel()
		if !errors.Is(err, storage.ErrEventGone) {
			t.Errorf("Read(%q) = %v, want ErrEventGone", bad, err)
		}
	}
	// An unknown session is still unknown, whatever the id.
	_, err = c.Read(ctx, randomID(), "nonsense", 0)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Read(unknown session, bad id) = %v, want ErrNotFound", err)
	}
}

// TestConcurrentHandles is a heavier race than the shared suite's: many
// writers over several handles on one session with a byte quota, while
// readers on every handle follow the log.
func TestConcurrentHandles(t *testing.T) {
	t.Parallel()
	const handles, writers, limit = 4, 120, 50
	srv := testservers.Redis(t)
	p := uniquePrefix()
	var cs []*redis.Catalog
	for range handles {
		cs = append(cs, openCatalog(t, srv, p))
	}
	ctx := testContext(t)
	s := newSession(t, cs[0])
	q := storage.Quota{MaxBytes: 10 * limit}
	shared := newImage(10)
	var ok, dup atomic.Int64
	var wg sync.WaitGroup
	for i := range writers {
		img := newImage(10)
		if i%4 == 0 {
			img.SHA256 = shared.SHA256
		}
		wg.Go(func() {
			_, _, err := cs[i%handles].AddImage(ctx, s.ID, img, q)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrDuplicate):
				dup.Add(1)
			case !errors.Is(err, storage.ErrQuota):
				t.Errorf("AddImage: %v", err)
			}
		})
	}
	follow := func(c *redis.Catalog) []storage.Event {
		var got []storage.Event
		after := ""
		for len(got) < limit {
			evs, err := c.Read(ctx, s.ID, after, 7)
			if err != nil {
				t.Errorf("follow: %v", err)
				return got
			}
			got = append(got, evs...)
			after = evs[len(evs)-1].ID
		}
		return got
	}
	logs := make([][]storage.Event, handles)
	var fw sync.WaitGroup
	for i, c := range cs {
		fw.Go(func() { logs[i] = follow(c) })
	}
	wg.Wait()
	fw.Wait()
	if ok.Load() != limit {
		t.Errorf("%d AddImage calls succeeded, want the quota's %d", ok.Load(), limit)
	}
	sess, err := cs[1].Session(ctx, s.ID)
	if err != nil || sess.Images != limit || sess.Bytes != 10*limit {
		t.Errorf("Session = %+v, %v; want %d images, %d bytes", sess, err, limit, 10*limit)
	}
	imgs, last, err := cs[2].Images(ctx, s.ID)
	if err != nil || len(imgs) != limit {
		t.Fatalf("Images = %d, %v", len(imgs), err)
	}
	seen := map[string]bool{}
	shares := 0
	for i, ev := range logs[0] {
		if ev.Image.ID != imgs[i].ID {
			t.Errorf("log entry %d is image %s, the gallery's %d is %s: not the same order", i, ev.Image.ID, i, imgs[i].ID)
		}
		if seen[ev.Image.ID] {
			t.Errorf("image %s logged twice", ev.Image.ID)
		}
		seen[ev.Image.ID] = true
		if ev.Image.SHA256 == shared.SHA256 {
			shares++
		}
	}
	if shares != 1 {
		t.Errorf("the shared bytes are stored %d times, want once", shares)
	}
	for i := 1; i < handles; i++ {
		if !slices.EqualFunc(logs[i], logs[0], func(a, b storage.Event) bool { return a.ID == b.ID }) {
			t.Errorf("handle %d's follower saw another log than handle 0's", i)
		}
	}
	if last != logs[0][len(logs[0])-1].ID {
		t.Errorf("Images' last id %q, the log's last %q", last, logs[0][len(logs[0])-1].ID)
	}
	if dup.Load() == 0 {
		t.Error("no writer of the shared bytes was told they were a duplicate")
	}
}

// TestSilentRedis puts a proxy between the handle and Redis and makes it
// drop everything without closing a connection, as a dead network does:
// blocked Reads and new calls still fail within seconds, and when the
// network comes back the handle carries on by itself.
func TestSilentRedis(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the read timeouts (about 7 s); TestOutage covers a stopped Redis under -short")
	}
	srv := testservers.Redis(t)
	proxy := chaosproxy.Start(t, srv.Addr, chaosproxy.Config{MaxLife: -1})
	p := uniquePrefix()
	c := openCatalog(t, &testservers.RedisServer{Addr: proxy.Addr()}, p)
	direct := openCatalog(t, srv, p)
	ctx := testContext(t)
	s := newSession(t, c)
	const readers = 5
	results := blockedReads(ctx, c, s.ID, "", readers)
	waitFor(t, 10*time.Second, "the readers to block", func() bool { return redis.Waiters(c) == readers })

	proxy.Pause(chaosproxy.Drop)
	silent := time.Now()
	for i := range readers {
		select {
		case r := <-results:
			if !errors.Is(r.err, storage.ErrUnavailable) {
				t.Errorf("blocked Read while Redis is silent = %+v, %v; want ErrUnavailable", r.evs, r.err)
			}
			if i == 0 {
				t.Logf("a blocked Read failed %v into the silence: %v", time.Since(silent).Round(time.Millisecond), r.err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d blocked Reads still hang 20 s into the silence", readers-i)
		}
	}
	start := time.Now()
	_, err := c.Session(ctx, s.ID)
	if took := time.Since(start); !errors.Is(err, storage.ErrUnavailable) || took > 10*time.Second {
		t.Errorf("Session while Redis is silent = %v after %v; want ErrUnavailable within seconds", err, took)
	} else {
		t.Logf("Session while Redis is silent failed after %v", took.Round(time.Millisecond))
	}

	proxy.Resume()
	resumed := time.Now()
	waitFor(t, 20*time.Second, "the handle to answer again", func() bool {
		_, err := c.Session(ctx, s.ID)
		return err == nil
	})
	t.Logf("the handle answered again %v after the network came back", time.Since(resumed).Round(time.Millisecond))
	results = blockedReads(ctx, c, s.ID, "", 1)
	waitFor(t, 10*time.Second, "a reader to block", func() bool { return redis.Waiters(c) == 1 })
	_, ev, err := direct.AddImage(ctx, s.ID, newImage(1), storage.Quota{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.err != nil || len(r.evs) != 1 || r.evs[0].ID != ev.ID {
			t.Errorf("Read after the silence = %+v, %v; want %q", r.evs, r.err, ev.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a blocked Read did not wake after the silence")
	}
}

// TestChaos follows logs through a proxy that cuts every connection after
// 100–500 ms, the hub's included, while a handle with a clean path
// appends: each follower sees the whole log, once, in order.
func TestChaos(t *testing.T) {
	t.Parallel()
	appends := 150
	if testing.Short() {
		appends = 40
	}
	const sessions = 4
	srv := testservers.Redis(t)
	proxy := chaosproxy.Start(t, srv.Addr, chaosproxy.Config{})
	p := uniquePrefix()
	chaotic := openCatalog(t, &testservers.RedisServer{Addr: proxy.Addr()}, p)
	direct := openCatalog(t, srv, p)
	ctx := testContext(t)
	var ss []storage.Session
	for range sessions {
		ss = append(ss, newSession(t, direct))
	}
	follow := make([]chan []string, sessions)
	errs := make([]atomic.Int64, sessions)
	for i, s := range ss {
		follow[i] = make(chan []string, 1)
		go func() {
			var got []string
			after := ""
			for len(got) < appends && ctx.Err() == nil {
				evs, err := chaotic.Read(ctx, s.ID, after, 0)
				if err != nil {
					errs[i].Add(1) // a cut connection: look again
					time.Sleep(10 * time.Millisecond)
					continue
				}
				for _, ev := range evs {
					got = append(got, ev.ID)
				}
				after = evs[len(evs)-1].ID
			}
			follow[i] <- got
		}()
	}
	want := make([][]string, sessions)
	for range appends {
		for i, s := range ss {
			_, ev, err := direct.AddImage(ctx, s.ID, newImage(1), storage.Quota{})
			if err != nil {
				t.Fatal(err)
			}
			want[i] = append(want[i], ev.ID)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range ss {
		select {
		case got := <-follow[i]:
			if !slices.Equal(got, want[i]) {
				t.Errorf("session %d: the follower saw %d events, want the %d appended, each once, in order", i, len(got), len(want[i]))
			}
		case <-time.After(45 * time.Second):
			t.Fatalf("session %d: the follower did not see all %d appends", i, appends)
		}
	}
	var failed int64
	for i := range errs {
		failed += errs[i].Load()
	}
	t.Logf("%d appends per session followed through %s; %d Reads failed and were retried", appends, proxy.Stats(), failed)
}

// TestManySessions: one hub watches many streams at once and wakes exactly
// the readers of the streams that grew.
func TestManySessions(t *testing.T) {
	t.Parallel()
	sessions := 300
	if testing.Short() {
		sessions = 60
	}
	srv := testservers.Redis(t)
	p := uniquePrefix()
	c, writer := openCatalog(t, srv, p), openCatalog(t, srv, p)
	ctx := testContext(t)
	var ss []storage.Session
	results := make([]<-chan readResult, sessions)
	for i := range sessions {
		ss = append(ss, newSession(t, writer))
		results[i] = blockedReads(ctx, c, ss[i].ID, "", 2)
	}
	waitFor(t, 20*time.Second, "every reader to block", func() bool { return redis.Waiters(c) == 2*sessions })
	want := map[int]string{}
	for i := 0; i < sessions; i += 3 {
		_, ev, err := writer.AddImage(ctx, ss[i].ID, newImage(1), storage.Quota{})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ev.ID
	}
	for i, id := range want {
		for range 2 {
			select {
			case r := <-results[i]:
				if r.err != nil || len(r.evs) != 1 || r.evs[0].ID != id {
					t.Fatalf("session %d: Read = %+v, %v; want %q", i, r.evs, r.err, id)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("session %d: a reader did not wake for its append", i)
			}
		}
	}
	// The others are still waiting, on nothing but the hub.
	time.Sleep(200 * time.Millisecond)
	if n, want := redis.Waiters(c), 2*(sessions-len(want)); n != want {
		t.Errorf("%d readers wait, want the %d whose sessions had no append", n, want)
	}
	for i := range sessions {
		if _, ok := want[i]; ok {
			continue
		}
		select {
		case r := <-results[i]:
			t.Fatalf("session %d: a reader woke with %+v, %v though nothing was appended", i, r.evs, r.err)
		default:
		}
		if err := writer.EndSession(ctx, ss[i].ID, now()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sessions {
		if _, ok := want[i]; ok {
			continue
		}
		for range 2 {
			select {
			case r := <-results[i]:
				if !errors.Is(r.err, storage.ErrExpired) {
					t.Fatalf("session %d: Read after EndSession = %v, want ErrExpired", i, r.err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("session %d: a reader did not wake for the end", i)
			}
		}
	}
}

// TestClose: Close wakes blocked Reads with an error, and is harmless
// twice; News made after it does not linger.
func TestClose(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	c := openCatalog(t, srv, uniquePrefix())
	news := c.News()
	defer news.Subscribe("s", func([]byte) {})()
	s := newSession(t, c)
	results := blockedReads(testContext(t), c, s.ID, "", 3)
	waitFor(t, 10*time.Second, "the readers to block", func() bool { return redis.Waiters(c) == 3 })
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	for range 3 {
		select {
		case r := <-results:
			if !errors.Is(r.err, storage.ErrUnavailable) {
				t.Errorf("Read after Close = %+v, %v; want ErrUnavailable", r.evs, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a blocked Read did not return after Close")
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := news.Publish(t.Context(), "s", []byte("{}")); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if _, err := c.Session(t.Context(), s.ID); err == nil {
		t.Error("Session after Close succeeded")
	}
}

// TestRedisErrors: an answer from Redis that is an error (here a key of
// the wrong type, left by something else) is not an outage: the server
// must not tell the client to try again as if Redis were down.
func TestRedisErrors(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	p := uniquePrefix()
	c := openCatalog(t, srv, p)
	id := randomID()
	srv.Do(t, "SET", p+"s:{"+id+"}", "not a hash")
	_, err := c.Session(testContext(t), id)
	if err == nil || errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Session on a damaged record = %v, want a plain error", err)
	}
}

// A session made before the size index (no z:{id}) is answered by reading
// its gallery, and the index starts only once its gallery is empty again,
// so it never answers for part of a gallery.
func TestSizeIndexOfOlderSessions(t *testing.T) {
	t.Parallel()
	srv := testservers.Redis(t)
	prefix := uniquePrefix()
	c := openCatalog(t, srv, prefix)
	ctx := testContext(t)
	s := newSession(t, c)
	has := func(size int64) bool {
		t.Helper()
		found, err := c.HasImageSized(ctx, s.ID, size, size)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	add := func(img storage.Image) {
		t.Helper()
		if _, _, err := c.AddImage(ctx, s.ID, img, storage.Quota{}); err != nil {
			t.Fatal(err)
		}
	}
	older := newImage(1000)
	add(older)
	srv.Do(t, "DEL", prefix+"z:{"+s.ID+"}") // as an older version left it
	newer := newImage(2000)
	add(newer)
	if !has(1000) || !has(2000) || has(3000) {
		t.Errorf("without the index: has 1000 %v, 2000 %v, 3000 %v; want true, true, false", has(1000), has(2000), has(3000))
	}
	if n := srv.Do(t, "EXISTS", prefix+"z:{"+s.ID+"}"); n != "0" {
		t.Errorf("the index was started over a gallery it does not hold (EXISTS %s)", n)
	}
	for _, img := range []storage.Image{older, newer} {
		if _, err := c.RemoveImage(ctx, s.ID, img.ID); err != nil {
			t.Fatal(err)
		}
	}
	add(newImage(3000))
	if n := srv.Do(t, "ZCARD", prefix+"z:{"+s.ID+"}"); n != "1" || !has(3000) || has(1000) {
		t.Errorf("after the gallery emptied: index holds %s, has 3000 %v, has 1000 %v; want 1, true, false", n, has(3000), has(1000))
	}
}
