//go:build js && wasm

package browser

import (
	"errors"
	"io"
	"sync"
	"syscall/js"

	"qrsync/eventsource/sse"
)

// The browser's fetch is the only HTTP the client has: net/http would add
// megabytes to the download for what a dozen lines of glue do here.

// jsError turns a rejected promise's reason into a Go error.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if msg.Type() == js.TypeString {
			if name.Type() == js.TypeString && name.String() != "Error" {
				return errors.New(name.String() + ": " + msg.String())
			}
			return errors.New(msg.String())
		}
	}
	return errors.New("javascript: " + js.Global().Get("String").Invoke(v).String())
}

type settled struct {
	v   js.Value
	err error
}

// Await waits for a promise to settle. The callbacks are released once it
// has; they only send on a buffered channel, since a js.Func must never
// block the browser's event loop.
func Await(p js.Value) (js.Value, error) {
	ch := make(chan settled, 1)
	resolve := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{v: Arg0(args)}
		return nil
	})
	reject := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- settled{err: jsError(Arg0(args))}
		return nil
	})
	p.Call("then", resolve, reject)
	r := <-ch
	resolve.Release()
	reject.Release()
	return r.v, r.err
}

// Arg0 is a callback's first argument, or undefined when there is none.
func Arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// fetchOptions is the init object of one fetch: same-origin only (the CSP
// says connect-src 'self' anyway), never from the HTTP cache.
func fetchOptions(method string, headers map[string]string, signal js.Value) js.Value {
	h := js.Global().Get("Object").New()
	for k, v := range headers {
		h.Set(k, v)
	}
	o := js.Global().Get("Object").New()
	o.Set("method", method)
	o.Set("headers", h)
	o.Set("cache", "no-store")
	o.Set("credentials", "same-origin")
	if signal.Truthy() {
		o.Set("signal", signal)
	}
	return o
}

// Fetch does a small request and returns the status and the whole body.
// Closing done aborts it; nil never does.
func Fetch(done <-chan struct{}, method, url string, headers map[string]string) (int, []byte, error) {
	ac := js.Global().Get("AbortController").New()
	stop := onStop(done, func() { ac.Call("abort") })
	defer stop()
	resp, err := Await(js.Global().Call("fetch", url, fetchOptions(method, headers, ac.Get("signal"))))
	if err != nil {
		return 0, nil, stopErr(done, err)
	}
	buf, err := Await(resp.Call("arrayBuffer"))
	if err != nil {
		return 0, nil, stopErr(done, err)
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	b := make([]byte, arr.Get("length").Int())
	js.CopyBytesToGo(b, arr)
	return resp.Get("status").Int(), b, nil
}

// The client stops its requests by closing a channel, not by cancelling a
// context: package context (and the time formatting its Deadline method
// keeps alive) would weigh more in the download than all of this glue.

// onStop calls f once done is closed, unless the returned func is called
// first: context.AfterFunc for a bare channel.
func onStop(done <-chan struct{}, f func()) (stop func()) {
	if done == nil {
		return func() {}
	}
	left := make(chan struct{})
	go func() {
		select {
		case <-done:
			f()
		case <-left:
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(left) }) }
}

// stopErr prefers sse.ErrStopped, once done is closed, over the
// browser's AbortError.
func stopErr(done <-chan struct{}, err error) error {
	select {
	case <-done:
		return sse.ErrStopped
	default:
		return err
	}
}

// EventStream is an sse.Stream's Connect: it opens the event stream at
// eventsURL with fetch, resending Last-Event-ID as a header (same origin,
// so no CORS preflight question). The body is handed over as a stream,
// chunk by chunk, so an event shows the moment its bytes arrive. Closing
// done aborts the request.
func EventStream(eventsURL string, done <-chan struct{}) func(lastEventID string) (*sse.Response, error) {
	return func(lastEventID string) (*sse.Response, error) {
		headers := map[string]string{"Accept": "text/event-stream"}
		if lastEventID != "" {
			headers["Last-Event-ID"] = lastEventID
		}
		ac := js.Global().Get("AbortController").New()
		abort := func() { ac.Call("abort") }
		stop := onStop(done, abort)
		resp, err := Await(js.Global().Call("fetch", eventsURL, fetchOptions("GET", headers, ac.Get("signal"))))
		if err != nil {
			stop()
			return nil, stopErr(done, err)
		}
		body := &streamBody{done: done, abort: abort, stop: stop}
		if b := resp.Get("body"); b.Truthy() {
			body.reader = b.Call("getReader")
		}
		ct := resp.Get("headers").Call("get", "Content-Type")
		if ct.Type() != js.TypeString { // null when absent
			ct = js.ValueOf("")
		}
		return &sse.Response{
			Status:      resp.Get("status").Int(),
			ContentType: ct.String(),
			Body:        body,
		}, nil
	}
}

// ignoreRejection swallows the rejection of a promise nobody waits for
// (reader.cancel() after an abort), so the console stays clean. It lives as
// long as the page, so it is never released.
var ignoreRejection = js.FuncOf(func(js.Value, []js.Value) any { return nil })

// streamBody reads a fetch body's ReadableStream as an io.ReadCloser: each
// Read awaits one reader.read() when nothing is left over from the last
// chunk. Close cancels the reader and aborts the request.
type streamBody struct {
	done   <-chan struct{}
	reader js.Value // a ReadableStreamDefaultReader, or undefined: no body
	abort  func()
	stop   func() // unregisters the done watcher

	rest []byte // unread part of the last chunk
	buf  []byte // reused chunk buffer
	err  error  // sticky

	closeOnce sync.Once
}

// Read implements io.Reader.
func (b *streamBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(b.rest) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if !b.reader.Truthy() {
			b.err = io.EOF
			continue
		}
		r, err := Await(b.reader.Call("read"))
		if err != nil {
			b.err = stopErr(b.done, err)
			continue
		}
		if r.Get("done").Bool() {
			b.err = io.EOF
			continue
		}
		chunk := r.Get("value")
		n := chunk.Get("length").Int()
		if n <= len(p) { // the common case: straight into the caller's buffer
			return js.CopyBytesToGo(p, chunk), nil
		}
		if cap(b.buf) < n {
			b.buf = make([]byte, n)
		}
		b.rest = b.buf[:js.CopyBytesToGo(b.buf[:n], chunk)]
	}
	n := copy(p, b.rest)
	b.rest = b.rest[n:]
	return n, nil
}

// Close implements io.Closer; it is safe to call more than once and while a
// Read waits (that Read then fails).
func (b *streamBody) Close() error {
	b.closeOnce.Do(func() {
		b.stop()
		if b.reader.Truthy() {
			b.reader.Call("cancel").Call("catch", ignoreRejection)
		}
		b.abort()
	})
	return nil
}

// Sleep waits ms milliseconds through setTimeout (time.Sleep would bring
// package time into the download), or until done is closed; then it
// returns sse.ErrStopped. A nil done never closes.
func Sleep(done <-chan struct{}, ms int64) error {
	if ms <= 0 {
		return stopErr(done, nil)
	}
	fired := make(chan struct{})
	f := js.FuncOf(func(js.Value, []js.Value) any {
		close(fired)
		return nil
	})
	defer f.Release()
	id := js.Global().Call("setTimeout", f, float64(ms))
	select {
	case <-fired:
		return nil
	case <-done:
		js.Global().Call("clearTimeout", id)
		return sse.ErrStopped
	}
}
