package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// streamID is a Redis stream entry id, ms-seq. The zero id is "before the
// first entry", which is where a Read after "" waits from.
type streamID struct{ ms, seq uint64 }

// parseStreamID reads an event id as the log spells it. Only the
// canonical form parses, so an id has one spelling; "" is the zero id.
func parseStreamID(s string) (streamID, bool) {
	if s == "" {
		return streamID{}, true
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	id := streamID{ms, seq}
	if err1 != nil || err2 != nil || id.String() != s {
		return streamID{}, false
	}
	return id, true
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// hub is a handle's one live reader: a single connection that runs
// XREAD BLOCK over every stream this process has waiters on, from the
// earliest id any of them last saw, and wakes a stream's waiters when it
// has entries. The waiters then look again through the pool. So a
// process holds one blocked connection however many streams it serves,
// and a slow viewer delays only itself.
type hub struct {
	c     *Catalog
	rdb   *goredis.Client // PoolSize 1: the hub's own connection
	ctl   string          // this handle's control stream, XADDed to end a BLOCK early
	block time.Duration

	mu       sync.Mutex
	watches  map[string]*watch // stream key → its waiters
	blocking bool              // an XREAD is in flight
	kicked   bool              // and a kick was sent to end it
	wake     chan struct{}     // 1-buffered: the set grew while no XREAD ran

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
}

// watch is one stream's waiters. Closing ch wakes them all at once, and
// never blocks the hub however slow they are.
type watch struct {
	pos  streamID // read from here: the earliest id any waiter last saw
	ch   chan struct{}
	refs int
}

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 2 * time.Second
)

func newHub(c *Catalog, rdb *goredis.Client, ctl string, block time.Duration) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{
		c: c, rdb: rdb, ctl: ctl, block: block,
		watches: map[string]*watch{},
		wake:    make(chan struct{}, 1),
		ctx:     ctx, cancel: cancel,
		done: make(chan struct{}),
	}
	go h.run()
	return h
}

// watch registers a waiter on the stream at key that has seen the log up
// to pos, and returns its watch and the function that unregisters it.
// A stream newly watched, or watched from an earlier id, ends the hub's
// current BLOCK (a kick), so it is covered at once; even without the kick
// nothing is lost, since the next XREAD starts from pos.
func (h *hub) watch(key string, pos streamID) (*watch, func()) {
	h.mu.Lock()
	w := h.watches[key]
	grew := false
	if w == nil {
		w = &watch{pos: pos, ch: make(chan struct{})}
		h.watches[key] = w
		grew = true
	} else if pos.less(w.pos) {
		w.pos = pos
		grew = true
	}
	w.refs++
	kick := grew && h.blocking && !h.kicked
	if kick {
		h.kicked = true
	}
	h.mu.Unlock()
	if grew {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	if kick {
		go h.kick()
	}
	return w, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		w.refs--
		if w.refs == 0 && h.watches[key] == w {
			delete(h.watches, key)
		}
	}
}

// kick ends the hub's BLOCK early by an entry in its control stream, sent
// on the pool (the hub's own connection is the one blocked). A failed
// kick costs at most one BLOCK of latency.
func (h *hub) kick() {
	ctx, cancel := context.WithTimeout(h.ctx, kickTimeout)
	defer cancel()
	_ = scriptKick.Run(ctx, h.c.rdb, []string{h.ctl}, ctlTTL.Milliseconds()).Err()
}

// run is the hub's loop: snapshot the watched streams, XREAD BLOCK them
// with the control stream, wake what got entries, repeat. On an error (the
// connection killed, Redis gone or restarted) it wakes every waiter, so
// that each looks again through the pool and either finds what it missed
// or returns the outage as its error, and retries with a short backoff;
// go-redis redials the connection.
func (h *hub) run() {
	defer close(h.done)
	ctlPos := "0-0"
	backoff := time.Duration(0)
	for {
		h.mu.Lock()
		for len(h.watches) == 0 {
			h.mu.Unlock()
			select {
			case <-h.wake:
			case <-h.ctx.Done():
				return
			}
			h.mu.Lock()
		}
		streams := make([]string, 0, 2*(len(h.watches)+1))
		streams = append(streams, h.ctl)
		ids := make([]string, 0, len(h.watches)+1)
		ids = append(ids, ctlPos)
		snap := make(map[string]*watch, len(h.watches))
		for k, w := range h.watches {
			streams = append(streams, k)
			ids = append(ids, w.pos.String())
			snap[k] = w
		}
		h.blocking, h.kicked = true, false
		h.mu.Unlock()

		// The read deadline is the BLOCK plus slack, so a Redis that stops
		// answering without closing the connection is noticed within a
		// few seconds (go-redis alone would allow the BLOCK plus 10 s).
		ctx, cancel := context.WithTimeout(h.ctx, h.block+hubSlack)
		res, err := h.rdb.XRead(ctx, &goredis.XReadArgs{
			Streams: append(streams, ids...), Count: 1, Block: h.block,
		}).Result()
		cancel()

		h.mu.Lock()
		h.blocking = false
		switch {
		case h.ctx.Err() != nil:
			h.mu.Unlock()
			return
		case errors.Is(err, goredis.Nil):
			// The BLOCK ran out with nothing new: go round.
			h.mu.Unlock()
			backoff = 0
			continue
		case err != nil:
			for k, w := range h.watches {
				close(w.ch)
				delete(h.watches, k)
			}
			h.mu.Unlock()
			backoff = min(max(2*backoff, backoffMin), backoffMax)
			select {
			case <-time.After(backoff):
			case <-h.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		for _, s := range res {
			if s.Stream == h.ctl {
				if n := len(s.Messages); n > 0 {
					ctlPos = s.Messages[n-1].ID
				}
				continue
			}
			// Only the watch this XREAD covered: one made since is
			// covered by the next round, from its own position.
			if w := h.watches[s.Stream]; w != nil && w == snap[s.Stream] {
				close(w.ch)
				delete(h.watches, s.Stream)
			}
		}
		h.mu.Unlock()
	}
}

// close stops the loop and its connection. Closing the client ends a
// BLOCK in flight at once (go-redis does not interrupt a read for a
// cancelled context).
func (h *hub) close() {
	h.cancel()
	_ = h.rdb.Close()
	<-h.done
}
