package redis

import (
	"context"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// News carries live news of sessions (upload progress) between instances
// by Redis pub/sub: a channel per session, PUBLISHed by whichever instance
// receives the upload, and SUBSCRIBEd by every instance with a viewer of
// that session, all on one pub/sub connection per handle that fans the
// messages out in-process. It is lossy by design, like pub/sub: nothing is
// stored, and a subscriber that is not connected when news is published
// (Redis down, the connection being remade) never sees it.
//
// It implements the server's News interface.
type News struct {
	c      *Catalog
	ps     *goredis.PubSub
	prefix string // of channel names: the catalog's prefix and "n:"

	mu   sync.Mutex
	subs map[string]map[*func([]byte)]struct{} // session id → deliver functions

	sync      chan struct{} // 1-buffered: the wanted channels changed
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// News returns the handle's News. The pub/sub connection is made the first
// time, and there is one per handle however many sessions it follows.
func (c *Catalog) News() *News {
	c.newsMu.Lock()
	defer c.newsMu.Unlock()
	if c.news == nil {
		n := &News{
			c:      c,
			ps:     c.rdb.Subscribe(context.Background()),
			prefix: c.prefix + "n:",
			subs:   map[string]map[*func([]byte)]struct{}{},
			sync:   make(chan struct{}, 1),
			done:   make(chan struct{}),
		}
		// go-redis's channel pings the connection every few seconds and
		// remakes it (subscribing again to every channel) when it fails.
		msgs := n.ps.Channel(goredis.WithChannelSize(1024))
		n.wg.Add(2)
		go n.dispatch(msgs)
		go n.reconcile()
		c.news = n
		select {
		case <-c.closed:
			// Close has run and will not see n: end it here, so that
			// its goroutines do not outlive the handle.
			n.close()
		default:
		}
	}
	return c.news
}

func (n *News) channel(sessionID string) string { return n.prefix + "{" + sessionID + "}" }

// Publish sends data to the session's subscribers on every instance. It
// never waits for them: PUBLISH returns once Redis has handed it on.
func (n *News) Publish(ctx context.Context, sessionID string, data []byte) error {
	if err := n.c.rdb.Publish(ctx, n.channel(sessionID), data).Err(); err != nil {
		return n.c.fail(ctx, "publish news", err)
	}
	return nil
}

// Subscribe calls deliver with every piece of news of the session, from
// whichever instance, until cancel is called; deliver must not block. It
// does not wait for Redis: the SUBSCRIBE is sent in the background, so
// news published in the moment after Subscribe returns may be missed.
func (n *News) Subscribe(sessionID string, deliver func(data []byte)) (cancel func()) {
	d := &deliver
	n.mu.Lock()
	first := n.subs[sessionID] == nil
	if first {
		n.subs[sessionID] = map[*func([]byte)]struct{}{}
	}
	n.subs[sessionID][d] = struct{}{}
	n.mu.Unlock()
	if first {
		n.changed()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.subs[sessionID], d)
			last := len(n.subs[sessionID]) == 0
			if last {
				delete(n.subs, sessionID)
			}
			n.mu.Unlock()
			if last {
				n.changed()
			}
		})
	}
}

func (n *News) changed() {
	select {
	case n.sync <- struct{}{}:
	default:
	}
}

// reconcile is the only goroutine that subscribes and unsubscribes: it
// brings the connection's channels to the sessions wanted, so that
// Subscribe never waits on the network and a subscribe and an unsubscribe
// of one session cannot reach Redis in the wrong order. go-redis keeps the
// channels it was told of, even across a failed call, and subscribes to
// them again when it remakes the connection.
func (n *News) reconcile() {
	defer n.wg.Done()
	have := map[string]bool{}
	for {
		select {
		case <-n.sync:
		case <-n.done:
			return
		}
		n.mu.Lock()
		var add, drop []string
		for id := range n.subs {
			if !have[id] {
				add = append(add, n.channel(id))
				have[id] = true
			}
		}
		for id := range have {
			if n.subs[id] == nil {
				drop = append(drop, n.channel(id))
				delete(have, id)
			}
		}
		n.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTTL)
		if len(add) > 0 {
			_ = n.ps.Subscribe(ctx, add...)
		}
		if len(drop) > 0 {
			_ = n.ps.Unsubscribe(ctx, drop...)
		}
		cancel()
	}
}

// dispatch hands each message to the session's local subscribers.
func (n *News) dispatch(msgs <-chan *goredis.Message) {
	defer n.wg.Done()
	var ds []*func([]byte)
	for m := range msgs {
		id, ok := strings.CutPrefix(m.Channel, n.prefix+"{")
		if !ok {
			continue
		}
		id = strings.TrimSuffix(id, "}")
		n.mu.Lock()
		ds = ds[:0]
		for d := range n.subs[id] {
			ds = append(ds, d)
		}
		n.mu.Unlock()
		data := []byte(m.Payload)
		for _, d := range ds {
			(*d)(data)
		}
	}
}

// close ends the pub/sub connection and the goroutines; again, nothing.
func (n *News) close() {
	n.closeOnce.Do(func() {
		close(n.done)
		_ = n.ps.Close() // closes msgs, which ends dispatch
		n.wg.Wait()
	})
}
