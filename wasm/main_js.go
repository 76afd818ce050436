//go:build js && wasm

package main

import (
	"errors"
	"sync"
	"syscall/js"

	"qrsync/api/wire"
	"qrsync/eventsource/sse"
	"qrsync/wasm/browser"
)

// qrCSSSize is the QR image's width on the page in CSS pixels (app.css);
// the PNG is fetched at that times the device pixel ratio so it stays crisp.
const qrCSSSize = 280

func main() {
	a := newApp()
	a.boot()
	go a.tick()
	// main must never return: the js.Func callbacks die with it.
	<-make(chan struct{})
}

// elements are the page's fixed elements, by id (index.html).
type elements struct {
	status, count, message, retry, ended                  js.Value
	qr, codeBox, codeExpired, codeUntil, newCode          js.Value
	link, copy, copyNote, addressRow, address             js.Value
	newSession, openElsewhere, elsewhere                  js.Value
	elsewhereURL, copyElsewhere, copyElsewhereNote        js.Value
	watchCmd, copyWatch, copyWatchNote                    js.Value
	keptUntil, downloadAll, warning, empty, gallery       js.Value
	viewer, viewerStage, viewerImg, viewerName, viewerPos js.Value
	viewerPrev, viewerNext, viewerClose                   js.Value
	viewerDelete, viewerDownload                          js.Value
	confirm, confirmText, confirmOK, confirmCancel        js.Value
}

// app is the page: the elements it drives and the view model behind them.
type app struct {
	win, doc, body js.Value
	el             elements
	store          *store
	local          LocalTime

	// mu guards everything below: stream, timer and UI callbacks
	// interleave. It is never held across an await, and no listener the
	// page has fires synchronously from a DOM call made under it.
	mu    sync.Mutex
	g     *Gallery // the session on show; nil before the first
	tiles map[Key]js.Value
	stop  func()       // ends the current session's stream
	busy  bool         // a session is being created or loaded
	texts SessionTexts // as shown, so the DOM is touched on change only

	candidates   []string // GET /api/addresses, once per page
	addresses    []string // choices of the address switcher
	defaultAddr  int      // the one the server's own QR shows
	chosenAddr   int
	lastViewed   string   // the photo the viewer showed last: focus goes back to its tile
	retryFn      func()   // what "Try again" does
	confirmThen  func()   // what the confirm dialog's OK does
	confirmFocus js.Value // the element to focus when it closes

	// Page-lifetime event listeners: the elements they hang on never go
	// away, so these are never released.
	listeners []js.Func
}

func newApp() *app {
	win := js.Global()
	doc := win.Get("document")
	a := &app{
		win: win, doc: doc, body: doc.Get("body"),
		store: openStore(),
		local: browserLocal,
		tiles: map[Key]js.Value{},
	}
	e := &a.el
	for _, x := range []struct {
		id string
		v  *js.Value
	}{
		{"status", &e.status}, {"count", &e.count}, {"message", &e.message}, {"retry", &e.retry},
		{"ended", &e.ended}, {"qr", &e.qr}, {"code-box", &e.codeBox}, {"code-expired", &e.codeExpired},
		{"code-until", &e.codeUntil}, {"new-code", &e.newCode}, {"upload-url", &e.link}, {"copy", &e.copy},
		{"copy-note", &e.copyNote}, {"address-row", &e.addressRow}, {"address", &e.address},
		{"new-session", &e.newSession}, {"open-elsewhere", &e.openElsewhere}, {"elsewhere", &e.elsewhere},
		{"elsewhere-url", &e.elsewhereURL}, {"copy-elsewhere", &e.copyElsewhere},
		{"copy-elsewhere-note", &e.copyElsewhereNote}, {"watch-cmd", &e.watchCmd},
		{"copy-watch", &e.copyWatch}, {"copy-watch-note", &e.copyWatchNote},
		{"kept-until", &e.keptUntil}, {"download-all", &e.downloadAll}, {"expiry-warning", &e.warning},
		{"empty", &e.empty}, {"gallery", &e.gallery}, {"viewer", &e.viewer}, {"viewer-stage", &e.viewerStage},
		{"viewer-img", &e.viewerImg}, {"viewer-name", &e.viewerName}, {"viewer-pos", &e.viewerPos},
		{"viewer-prev", &e.viewerPrev}, {"viewer-next", &e.viewerNext}, {"viewer-close", &e.viewerClose},
		{"viewer-delete", &e.viewerDelete}, {"viewer-download", &e.viewerDownload},
		{"confirm", &e.confirm}, {"confirm-text", &e.confirmText}, {"confirm-ok", &e.confirmOK},
		{"confirm-cancel", &e.confirmCancel},
	} {
		*x.v = doc.Call("getElementById", x.id)
	}
	a.loadMessages()
	a.wire()
	a.setState(StateConnecting)
	return a
}

// boot picks the session to show: one handed over by a link, else the
// stored one, else a new one.
func (a *app) boot() {
	hash := a.win.Get("qrsyncLink") // boot.js took it out of the address bar
	h := ""
	if hash.Type() == js.TypeString {
		h = hash.String()
	} else {
		h = a.takeHash()
	}
	stored := a.store.get()
	id, fromLink := PickSession(h, stored)
	fallback := ""
	switch {
	case fromLink:
		a.store.set(id)
		if ValidID(stored) {
			fallback = stored // a link to nothing must not lose this one
		}
	case id == "" && stored != "":
		a.store.remove() // not an id at all
	}
	go a.load(id, fallback)
}

// takeHash returns the address bar's fragment if it hands over a session,
// and removes it from the address bar at once.
func (a *app) takeHash() string {
	loc := a.win.Get("location")
	h := loc.Get("hash").String()
	if !IsSessionHash(h) {
		return ""
	}
	safeCall(a.win.Get("history"), "replaceState", js.Null(), "", loc.Get("pathname").String()+loc.Get("search").String())
	return h
}

// follow switches to a session another tab or a link chose; id is valid.
// Should id not exist, the page goes back to the session it shows rather
// than make a new one (which every other tab would then follow).
func (a *app) follow(id string) {
	a.mu.Lock()
	cur := ""
	if a.g != nil {
		cur = a.g.Session().ID
	}
	a.mu.Unlock()
	if id != cur {
		a.load(id, cur)
	}
}

// load shows session id ("" makes a new one). If it never existed (404),
// it is forgotten for fallback, or else for a new session. It runs on its
// own goroutine: it awaits fetch.
func (a *app) load(id, fallback string) {
	if id == "" {
		a.create(true)
		return
	}
	if !a.begin() {
		return
	}
	forget := false
	defer func() {
		a.done()
		switch {
		case !forget:
		case fallback != "" && fallback != id:
			a.store.set(fallback)
			showing := false
			a.current(func(g *Gallery) { showing = g.Session().ID == fallback })
			if !showing {
				a.load(fallback, "")
			}
		default: // never existed (or was wiped): start afresh
			a.create(true)
		}
	}()
	a.say("")
	status, body, err := browser.Fetch(nil, "GET", wire.SessionPath(id), acceptJSON)
	if err != nil {
		a.failed(fill(T.ErrStart, "{reason}", T.ErrUnreachable), func() { a.load(id, fallback) })
		return
	}
	switch ClassifyLoad(status) {
	case LoadShow:
		s, err := ParseSession(body, id)
		if err != nil {
			a.failed(fill(T.ErrStart, "{reason}", T.ErrNonsense), func() { a.load(id, fallback) })
			return
		}
		a.show(s)
	case LoadForget:
		if a.store.get() == id {
			a.store.remove()
		}
		forget = true
	case LoadEnded:
		a.showEnded(id)
	default:
		a.failed(fill(T.ErrStart, "{reason}", ErrorMessage(status, body)), func() { a.load(id, fallback) })
	}
}

// begin marks a session switch under way; false if one already is.
func (a *app) begin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy {
		return false
	}
	a.busy = true
	a.el.newSession.Set("disabled", true)
	return true
}

func (a *app) done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.busy = false
	a.el.newSession.Set("disabled", false)
}

// create makes a new session and shows it. first says the page has
// nothing on show yet, so a failure offers "Try again" rather than
// leaving the current session up.
func (a *app) create(first bool) {
	if !a.begin() {
		return
	}
	defer a.done()
	a.say("")
	s, reason := createSession()
	if reason != "" {
		if first {
			a.failed(fill(T.ErrStart, "{reason}", reason), func() { a.create(true) })
		} else {
			a.say(fill(T.ErrNewSession, "{reason}", reason))
		}
		return
	}
	a.store.set(s.ID)
	a.show(s)
}

// createSession POSTs a new session; reason says why it failed.
func createSession() (Session, string) {
	status, body, err := browser.Fetch(nil, "POST", wire.SessionsPath, acceptJSON)
	if err != nil {
		return Session{}, T.ErrUnreachable
	}
	if status != 201 && status != 200 {
		return Session{}, ErrorMessage(status, body)
	}
	s, err := ParseSession(body, "")
	if err != nil {
		return Session{}, T.ErrNonsense
	}
	return s, ""
}

// failed says msg and offers "Try again", which runs again.
func (a *app) failed(msg string, again func()) {
	a.say(msg)
	a.mu.Lock()
	a.retryFn = again
	a.mu.Unlock()
	setHidden(a.el.retry, false)
}

// reset stops the session on show and clears the page for another. Callers
// hold a.mu.
func (a *app) reset() *Gallery {
	if a.stop != nil {
		a.stop()
		a.stop = nil
	}
	for k, t := range a.tiles {
		t.Call("remove")
		delete(a.tiles, k)
	}
	a.closeDialog(a.el.viewer)
	a.closeDialog(a.el.confirm)
	a.confirmThen = nil
	a.lastViewed = ""
	a.texts = SessionTexts{}
	setHidden(a.el.retry, true)
	g := NewGallery()
	g.Now = now
	a.g = g
	return g
}

// show puts session s on the page, its photos first, and follows its
// stream.
func (a *app) show(s Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	same := a.g != nil && a.g.Session().ID == s.ID
	g := a.reset()
	if !same {
		a.chosenAddr = -1
	}
	setAttr(a.body, "data-session", "live")
	setHidden(a.el.ended, true)
	a.el.address.Set("disabled", false)
	toggle(a.el.newSession, "primary", false)
	a.setState(StateConnecting)
	ops := g.SetSession(s)
	ops = append(ops, g.Snapshot(s.Images)...)
	a.render(ops)
	a.el.downloadAll.Set("href", wire.ArchivePath(s.ID))
	done := make(chan struct{})
	a.stop = func() { close(done) } // reset calls it once
	go a.stream(done, g)
	go a.loadAddresses(done, g)
}

// showEnded shows that session id has ended (410 when the page loaded it).
func (a *app) showEnded(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g := a.reset()
	g.SetSession(Session{ID: id})
	a.render(g.SetState(StateEnded))
}

// stream follows the session's event stream until it ends or done is
// closed.
func (a *app) stream(done <-chan struct{}, g *Gallery) {
	// The zero Backoff and MaxEventSize are right here: the server's retry
	// plus jitter, and 1 MiB per event, four times a full 500-image snapshot.
	c := &sse.Stream{
		Connect: browser.EventStream(g.Session().EventsURL, done),
		Done:    done,
		Sleep:   func(d sse.Duration) error { return browser.Sleep(done, int64(d/sse.Millisecond)) },
		OnEvent: func(ev sse.Event) error {
			var applyErr error
			a.update(g, func() []Op {
				ops, err := g.Apply(ev.Type, []byte(ev.Data))
				applyErr = err
				return ops
			})
			if applyErr != nil {
				// One bad event must not tear the gallery down; say so and go on.
				console("warn", "qrsync: ignoring event:", applyErr.Error())
			}
			if ev.Type == wire.EventExpired {
				return sse.ErrStop
			}
			return nil
		},
		OnState: func(st sse.State, err error) {
			a.update(g, func() []Op {
				title := ""
				if err != nil && st == sse.StateReconnecting {
					title = err.Error() // why, for the curious: hover the pill
				}
				a.el.status.Set("title", title)
				return g.SetState(st.String())
			})
		},
	}
	err := c.Run()
	select {
	case <-done:
		return // another session took its place
	default:
	}
	// Run returns only when the stream is over for good: expired, 404/410.
	a.update(g, func() []Op { return g.SetState(StateEnded) })
	if err != nil && !errors.Is(err, sse.ErrStop) {
		console("info", "qrsync: stream ended:", err.Error())
	}
}

// update runs f on the view model and applies the ops it returns, unless
// g is no longer the session on show.
func (a *app) update(g *Gallery, f func() []Op) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.g != g {
		return
	}
	a.render(f())
}

// current runs f with the session on show, under the lock.
func (a *app) current(f func(g *Gallery)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.g != nil {
		f(a.g)
	}
}

// tick lets time pass for the texts and the placeholders.
func (a *app) tick() {
	for {
		sleep(TextsEvery)
		a.current(func(g *Gallery) {
			a.render(g.Tick(now()))
		})
	}
}

// newCode replaces the upload link (the QR) without touching the gallery.
func (a *app) newCode() {
	var g *Gallery
	a.current(func(cur *Gallery) { g = cur })
	if g == nil || g.State() == StateEnded {
		return
	}
	id := g.Session().ID
	a.el.newCode.Set("disabled", true)
	defer a.el.newCode.Set("disabled", false)
	status, body, err := browser.Fetch(nil, "POST", wire.UploadLinkPath(id), acceptJSON)
	switch {
	case err != nil:
		a.say(fill(T.ErrNewCode, "{reason}", T.ErrUnreachable))
	case status == 200 || status == 201:
		s, err := ParseSession(body, id)
		if err != nil {
			a.say(fill(T.ErrNewCode, "{reason}", T.ErrNonsense))
			return
		}
		a.say("")
		a.update(g, func() []Op { return g.SetSession(s) })
	case status == 404 || status == 410:
		a.update(g, func() []Op { return g.SetState(StateEnded) })
	default:
		a.say(fill(T.ErrNewCode, "{reason}", ErrorMessage(status, body)))
	}
}

// deleteImage deletes a photo on the server. Its tile goes at once; every
// other page showing the session hears `removed`.
func (a *app) deleteImage(id string) {
	var g *Gallery
	var img Image
	a.current(func(cur *Gallery) {
		g = cur
		img, _ = cur.Image(id)
	})
	if g == nil || img.ID == "" || img.URL == "" {
		return
	}
	status, body, err := browser.Fetch(nil, "DELETE", img.URL, nil)
	switch {
	case err != nil:
		a.say(fill(T.ErrDelete, "{name}", img.Name, "{reason}", T.ErrUnreachable))
	case status == 204 || status == 200 || status == 404: // 404: gone already
		a.update(g, func() []Op { return g.Remove(id) })
	case status == 410:
		a.update(g, func() []Op { return g.SetState(StateEnded) })
	default:
		a.say(fill(T.ErrDelete, "{name}", img.Name, "{reason}", ErrorMessage(status, body)))
	}
}

// askNewSession confirms, unless the session has ended, and makes a new
// session.
func (a *app) askNewSession() {
	ended, exp := true, Instant(0)
	a.current(func(g *Gallery) {
		ended = g.State() == StateEnded
		exp = g.ExpiresAt()
	})
	if ended {
		go a.create(false)
		return
	}
	text := T.ConfirmNewSessionNo
	if exp != 0 {
		text = fill(T.ConfirmNewSession, "{date}", DateLabel(a.local.wall(exp)))
	}
	a.ask(text, T.ConfirmNewSessionOK, func() { go a.create(false) })
}

// askDelete confirms the deletion of a photo.
func (a *app) askDelete(id string) {
	name, ok := "", false
	a.current(func(g *Gallery) {
		var img Image
		img, ok = g.Image(id)
		name = img.Name
	})
	if !ok {
		return
	}
	a.ask(fill(T.ConfirmDelete, "{name}", name), T.ConfirmDeleteOK, func() { go a.deleteImage(id) })
}

func (a *app) qrSize() int {
	return QRSize(qrCSSSize, a.win.Get("devicePixelRatio").Float())
}

func (a *app) loadAddresses(done <-chan struct{}, g *Gallery) {
	a.mu.Lock()
	have := a.candidates != nil
	a.mu.Unlock()
	if !have {
		status, body, err := browser.Fetch(done, "GET", "/api/addresses", acceptJSON)
		if err != nil || status != 200 {
			return // the switcher is a convenience; the default QR still works
		}
		urls, ok := ParseAddresses(body)
		if !ok {
			return
		}
		a.mu.Lock()
		a.candidates = urls
		a.mu.Unlock()
	}
	a.update(g, func() []Op {
		opts, sel := AddressOptions(g.Session().UploadURL, a.candidates)
		a.addresses, a.defaultAddr = opts, sel
		if a.chosenAddr < 0 || a.chosenAddr >= len(opts) {
			a.chosenAddr = sel
		}
		if len(opts) < 2 {
			setHidden(a.el.addressRow, true)
			return nil
		}
		setText(a.el.address, "")
		for i, o := range opts {
			opt := a.doc.Call("createElement", "option")
			opt.Set("value", o)
			setText(opt, AddressLabel(o))
			opt.Set("selected", i == a.chosenAddr)
			a.el.address.Call("appendChild", opt)
		}
		setHidden(a.el.address, false)
		setHidden(a.el.addressRow, false)
		a.showCode(g.Session())
		return nil
	})
}

// say shows msg in the message banner, or hides the banner when msg is "".
func (a *app) say(msg string) {
	setText(a.el.message, msg)
	setHidden(a.el.message, msg == "")
}

// console logs to the browser's console, for the curious.
func console(level string, args ...any) {
	js.Global().Get("console").Call(level, args...)
}
