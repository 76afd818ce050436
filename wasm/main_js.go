//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"syscall/js"
	"time"

	"qrsync/api"
	"qrsync/eventsource"
)

// qrCSSSize is the QR image's width on the page in CSS pixels (app.css);
// the PNG is fetched at that times the device pixel ratio so it stays crisp.
const qrCSSSize = 280

func main() {
	a := newApp()
	go a.run()
	// main must never return: the js.Func callbacks die with it.
	<-make(chan struct{})
}

// app is the page: the elements it drives and the view model behind them.
type app struct {
	doc, body js.Value
	status, count, qr, link, copy, addressRow, address,
	expires, message, retry, empty, gallery, watchCmd js.Value

	mu    sync.Mutex // guards g and tiles: stream and UI callbacks interleave
	g     *Gallery
	tiles map[string]js.Value

	session     api.Session
	addresses   []string // choices of the address switcher
	defaultAddr int      // the one the server's own QR shows

	// Page-lifetime event listeners: the elements they hang on never go
	// away, so these are never released.
	listeners []js.Func
}

func newApp() *app {
	doc := js.Global().Get("document")
	byID := func(id string) js.Value { return doc.Call("getElementById", id) }
	a := &app{
		doc: doc, body: doc.Get("body"),
		status: byID("status"), count: byID("count"), qr: byID("qr"),
		link: byID("upload-url"), copy: byID("copy"),
		addressRow: byID("address-row"), address: byID("address"),
		expires: byID("expires"), message: byID("message"), retry: byID("retry"),
		empty: byID("empty"), gallery: byID("gallery"), watchCmd: byID("watch-cmd"),
		g: NewGallery(), tiles: map[string]js.Value{},
	}
	a.listen(a.retry, "click", false, func(js.Value) {
		a.retry.Set("hidden", true)
		go a.run()
	})
	a.listen(a.address, "change", false, func(js.Value) {
		a.chooseAddress(a.address.Get("selectedIndex").Int())
	})
	a.listen(a.copy, "click", false, func(js.Value) { go a.copyLink() })
	// error does not bubble, so catch it on the way down: one listener for
	// every thumbnail instead of one js.Func per image.
	a.listen(a.gallery, "error", true, func(ev js.Value) {
		if t := ev.Get("target"); t.Get("tagName").String() == "IMG" {
			t.Get("classList").Call("add", "broken")
		}
	})
	a.render([]Op{{Kind: OpState, State: StateConnecting}})
	return a
}

// listen adds a page-lifetime event listener. The handler runs on the
// browser's event loop and must not block: anything that awaits goes to a
// goroutine.
func (a *app) listen(el js.Value, event string, capture bool, h func(ev js.Value)) {
	if !el.Truthy() {
		return
	}
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		h(arg0(args))
		return nil
	})
	a.listeners = append(a.listeners, f)
	el.Call("addEventListener", event, f, capture)
}

// run creates a session, shows its code and follows its stream until the
// session ends.
func (a *app) run() {
	ctx := context.Background()
	a.say("")
	s, err := a.createSession(ctx)
	if err != nil {
		a.say("Couldn't start a session: " + err.Error())
		a.retry.Set("hidden", false)
		return
	}
	a.session = s
	a.showSession()
	go a.loadAddresses(ctx)

	// The zero Backoff and MaxEventSize are right here: the server's retry
	// plus jitter, and 1 MiB per event, four times a full 500-image snapshot.
	c := &eventsource.Client{
		Connect: fetchConnector(s.EventsURL),
		OnEvent: a.onEvent,
		OnState: func(st eventsource.State, err error) {
			a.update(func(g *Gallery) []Op { return g.SetState(st.String()) })
			title := ""
			if err != nil && st == eventsource.StateReconnecting {
				title = err.Error() // why, for the curious: hover the pill
			}
			a.status.Set("title", title)
		},
	}
	err = c.Run(ctx)
	// Run returns only when the stream is over for good: expired, 404/410.
	a.update(func(g *Gallery) []Op { return g.SetState(StateEnded) })
	if err != nil && !errors.Is(err, eventsource.ErrStop) {
		js.Global().Get("console").Call("info", "qrsync: stream ended:", err.Error())
	}
}

func (a *app) onEvent(ev eventsource.Event) error {
	var applyErr error
	a.update(func(g *Gallery) []Op {
		ops, err := g.Apply(ev.Type, []byte(ev.Data))
		applyErr = err
		return ops
	})
	if applyErr != nil {
		// One bad event must not tear the gallery down; say so and go on.
		js.Global().Get("console").Call("warn", "qrsync: ignoring event:", applyErr.Error())
	}
	if ev.Type == api.EventSnapshot {
		a.mu.Lock()
		exp := a.g.ExpiresAt()
		a.mu.Unlock()
		if !exp.IsZero() {
			a.expires.Set("textContent", ExpiryLabel(exp, time.Local))
		}
	}
	if ev.Type == api.EventExpired {
		return eventsource.ErrStop
	}
	return nil
}

// update runs f on the view model and applies the ops it returns.
func (a *app) update(f func(*Gallery) []Op) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.render(f(a.g))
}

// errorMessage picks the person-readable message out of an error body.
func errorMessage(status int, body []byte) string {
	var e api.ErrorBody
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return "the server answered " + strconv.Itoa(status)
}

func (a *app) createSession(ctx context.Context) (api.Session, error) {
	var s api.Session
	status, body, err := fetchBytes(ctx, "POST", "/api/sessions", map[string]string{"Accept": "application/json"})
	if err != nil {
		return s, errors.New("the qrsync server can't be reached — is it still running?")
	}
	if status != 201 && status != 200 {
		return s, errors.New(errorMessage(status, body))
	}
	if err := json.Unmarshal(body, &s); err != nil || s.ID == "" || s.EventsURL == "" {
		return s, errors.New("the server's answer made no sense")
	}
	return s, nil
}

func (a *app) qrSize() int {
	return QRSize(qrCSSSize, js.Global().Get("devicePixelRatio").Float())
}

func (a *app) showSession() {
	s := a.session
	a.qr.Set("src", QRSource(s.QRURL, "", a.qrSize()))
	a.showLink(s.UploadURL)
	a.expires.Set("textContent", ExpiryLabel(s.ExpiresAt, time.Local))
	a.copy.Set("hidden", !js.Global().Get("navigator").Get("clipboard").Truthy())
}

func (a *app) showLink(u string) {
	a.link.Set("href", u)
	a.link.Set("textContent", u)
	a.watchCmd.Set("textContent", WatchCommand(u, a.session.ID))
}

func (a *app) loadAddresses(ctx context.Context) {
	status, body, err := fetchBytes(ctx, "GET", "/api/addresses", map[string]string{"Accept": "application/json"})
	if err != nil || status != 200 {
		return // the switcher is a convenience; the default QR still works
	}
	var got struct {
		URLs []string `json:"urls"`
	}
	if json.Unmarshal(body, &got) != nil {
		return
	}
	opts, sel := AddressOptions(a.session.UploadURL, got.URLs)
	if len(opts) < 2 {
		return
	}
	a.addresses, a.defaultAddr = opts, sel
	a.address.Set("textContent", "")
	for i, o := range opts {
		opt := a.doc.Call("createElement", "option")
		opt.Set("value", o)
		opt.Set("textContent", AddressLabel(o))
		opt.Set("selected", i == sel)
		a.address.Call("appendChild", opt)
	}
	a.address.Set("hidden", false)
	a.addressRow.Set("hidden", false)
}

func (a *app) chooseAddress(i int) {
	if i < 0 || i >= len(a.addresses) {
		return
	}
	base := a.addresses[i]
	qrBase := base
	if i == a.defaultAddr {
		qrBase = "" // the server's own choice needs no override
	}
	a.qr.Set("src", QRSource(a.session.QRURL, qrBase, a.qrSize()))
	a.showLink(UploadURLFor(a.session.UploadURL, base))
}

func (a *app) copyLink() {
	clip := js.Global().Get("navigator").Get("clipboard")
	if !clip.Truthy() {
		return
	}
	if _, err := await(clip.Call("writeText", a.link.Get("href"))); err != nil {
		return
	}
	a.copy.Set("textContent", "Copied")
	time.Sleep(1500 * time.Millisecond)
	a.copy.Set("textContent", "Copy")
}

// say shows msg in the message banner, or hides the banner when msg is "".
func (a *app) say(msg string) {
	a.message.Set("textContent", msg)
	a.message.Set("hidden", msg == "")
}

// render applies ops to the page. Callers hold a.mu.
func (a *app) render(ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			t := a.tile(op.Image, op.Arrived)
			a.gallery.Call("insertBefore", t, a.ref(op.Before))
			a.tiles[op.ID] = t
		case OpRemove:
			if t, ok := a.tiles[op.ID]; ok {
				t.Call("remove")
				delete(a.tiles, op.ID)
			}
		case OpMove:
			if t, ok := a.tiles[op.ID]; ok {
				a.gallery.Call("insertBefore", t, a.ref(op.Before))
			}
		case OpState:
			a.status.Call("setAttribute", "data-state", op.State)
			a.status.Set("textContent", StatusLabel(op.State))
			a.body.Call("setAttribute", "data-state", op.State)
			if op.State == StateEnded {
				a.say(EndedMessage)
				a.address.Set("disabled", true)
				a.copy.Set("hidden", true)
			}
		}
	}
	n := a.g.Len()
	a.count.Set("textContent", CountLabel(n))
	a.empty.Set("hidden", n > 0)
}

// ref is the node to insert before: the tile with that id, or null for the
// end of the gallery.
func (a *app) ref(id string) js.Value {
	if t, ok := a.tiles[id]; ok && id != "" {
		return t
	}
	return js.Null()
}

// tile builds one gallery item. Every text goes in through textContent,
// never innerHTML: file names come from the phone, and a name like
// "<img onerror=…>.jpg" must stay a name.
func (a *app) tile(img api.Image, arrived bool) js.Value {
	li := a.el("li", "tile", "")
	li.Call("setAttribute", "data-id", img.ID)
	if arrived {
		li.Get("classList").Call("add", "arrived")
	}
	link := a.el("a", "open", "")
	link.Set("href", img.URL)
	link.Set("target", "_blank")
	link.Set("rel", "noopener")
	title := img.Name
	if img.Width > 0 && img.Height > 0 {
		title += " · " + strconv.Itoa(img.Width) + " × " + strconv.Itoa(img.Height)
	}
	link.Set("title", title)

	thumb := a.el("img", "thumb", "")
	thumb.Set("alt", img.Name)
	thumb.Set("decoding", "async")
	thumb.Set("loading", "lazy")
	thumb.Set("src", img.ThumbURL)

	caption := a.el("span", "caption", "")
	caption.Call("append", a.el("span", "name", img.Name), a.el("span", "size", HumanSize(img.Size)))
	link.Call("append", thumb, caption)
	li.Call("append", link)
	return li
}

func (a *app) el(tag, class, text string) js.Value {
	e := a.doc.Call("createElement", tag)
	if class != "" {
		e.Set("className", class)
	}
	if text != "" {
		e.Set("textContent", text)
	}
	return e
}
