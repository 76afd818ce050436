//go:build js && wasm

package main

import (
	"syscall/js"

	"qrsync/wasm/browser"
)

// acceptJSON is the header set of the page's API requests.
var acceptJSON = map[string]string{"Accept": "application/json"}

// wire hangs the page's listeners. Handlers run on the browser's event
// loop: anything that awaits, or takes a.mu, goes to a goroutine, so that no
// handler can block the loop or meet a lock its own caller holds.
func (a *app) wire() {
	a.on(a.el.retry, "click", func(js.Value) {
		setHidden(a.el.retry, true)
		go func() {
			a.mu.Lock()
			again := a.retryFn
			a.retryFn = nil
			a.mu.Unlock()
			if again != nil {
				again()
			}
		}()
	})
	a.on(a.el.address, "change", func(js.Value) {
		i := a.el.address.Get("selectedIndex").Int()
		go a.current(func(g *Gallery) {
			if i >= 0 && i < len(a.addresses) {
				a.chosenAddr = i
				a.showCode(g.Session())
			}
		})
	})
	a.on(a.el.newCode, "click", func(js.Value) { go a.newCode() })
	a.on(a.el.newSession, "click", func(js.Value) { go a.askNewSession() })
	a.on(a.el.openElsewhere, "click", func(js.Value) {
		open := a.el.elsewhere.Get("hidden").Bool()
		setHidden(a.el.elsewhere, !open)
		setAttr(a.el.openElsewhere, "aria-expanded", boolString(open))
	})

	// Copy buttons work out what to copy at click time: the link follows
	// the address picker.
	a.copyButton(a.el.copy, a.el.link, a.el.copyNote, func() string { return a.el.link.Get("href").String() })
	a.copyButton(a.el.copyElsewhere, a.el.elsewhereURL, a.el.copyElsewhereNote, func() string { return a.el.elsewhereURL.Get("value").String() })
	a.copyButton(a.el.copyWatch, a.el.watchCmd, a.el.copyWatchNote, func() string { return a.el.watchCmd.Get("textContent").String() })

	// One listener for every tile, whatever its kind, rather than one
	// js.Func per tile.
	a.on(a.el.gallery, "click", func(ev js.Value) {
		t := ev.Get("target")
		if !t.Get("closest").Truthy() {
			return
		}
		li := t.Call("closest", "li.tile")
		if !li.Truthy() {
			return
		}
		switch {
		case t.Call("closest", ".tile-delete").Truthy():
			id := li.Call("getAttribute", "data-id").String()
			go a.askDelete(id)
		case t.Call("closest", ".tile-dismiss").Truthy():
			up := li.Call("getAttribute", "data-upload").String()
			go a.current(func(g *Gallery) { a.render(g.Dismiss(up)) })
		case t.Call("closest", ".open").Truthy():
			id := li.Call("getAttribute", "data-id").String()
			go a.current(func(g *Gallery) { a.render(g.Open(id)) })
		}
	})
	// error does not bubble, so catch it on the way down.
	a.onCapture(a.el.gallery, "error", func(ev js.Value) {
		if t := ev.Get("target"); t.Get("tagName").String() == "IMG" {
			toggle(t, "broken", true)
		}
	})

	step := func(d int) func(js.Value) {
		return func(js.Value) { go a.current(func(g *Gallery) { a.render(g.Step(d)) }) }
	}
	a.on(a.el.viewerPrev, "click", step(-1))
	a.on(a.el.viewerNext, "click", step(+1))
	a.on(a.el.viewerClose, "click", func(js.Value) { a.closeDialog(a.el.viewer) })
	a.on(a.el.viewerDelete, "click", func(js.Value) {
		go func() {
			id := ""
			a.current(func(g *Gallery) { id = g.Viewing() })
			if id != "" {
				a.askDelete(id)
			}
		}()
	})
	a.on(a.el.viewer, "keydown", func(ev js.Value) {
		switch ev.Get("key").String() {
		case "ArrowLeft":
			ev.Call("preventDefault")
			step(-1)(ev)
		case "ArrowRight":
			ev.Call("preventDefault")
			step(+1)(ev)
		}
	})
	// A click on the dark around the photo closes, as in every viewer.
	a.on(a.el.viewer, "click", func(ev js.Value) {
		if t := ev.Get("target"); t.Equal(a.el.viewer) || t.Equal(a.el.viewerStage) {
			a.closeDialog(a.el.viewer)
		}
	})
	a.on(a.el.viewer, "close", func(js.Value) { go a.viewerClosed() })

	a.on(a.el.confirmOK, "click", func(js.Value) {
		go func() {
			a.mu.Lock()
			then := a.confirmThen
			a.confirmThen = nil
			a.mu.Unlock()
			a.closeDialog(a.el.confirm)
			if then != nil {
				then()
			}
		}()
	})
	a.on(a.el.confirmCancel, "click", func(js.Value) { a.closeDialog(a.el.confirm) })
	a.on(a.el.confirm, "close", func(js.Value) {
		go func() {
			a.mu.Lock()
			a.confirmThen = nil
			f := a.confirmFocus
			a.confirmFocus = js.Undefined()
			a.mu.Unlock()
			if f.Truthy() && f.Get("isConnected").Bool() {
				f.Call("focus")
			}
		}()
	})

	// Another tab started a new session (or opened a link): follow it, so
	// every tab shows the same session.
	a.on(a.win, "storage", func(ev js.Value) {
		if ev.Get("key").Type() != js.TypeString || ev.Get("key").String() != StorageKey {
			return
		}
		if v := ev.Get("newValue"); v.Type() == js.TypeString && ValidID(v.String()) {
			go a.follow(v.String())
		}
	})
	// A link pasted into this very tab changes only the fragment.
	a.on(a.win, "hashchange", func(js.Value) {
		if id, ok := HashID(a.takeHash()); ok {
			a.store.set(id)
			go a.follow(id)
		}
	})
}

// on adds a page-lifetime event listener.
func (a *app) on(el js.Value, event string, h func(ev js.Value)) { a.listen(el, event, false, h) }

// onCapture adds a page-lifetime listener for the capture phase.
func (a *app) onCapture(el js.Value, event string, h func(ev js.Value)) {
	a.listen(el, event, true, h)
}

func (a *app) listen(el js.Value, event string, capture bool, h func(ev js.Value)) {
	if !el.Truthy() {
		return
	}
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		h(browser.Arg0(args))
		return nil
	})
	a.listeners = append(a.listeners, f)
	el.Call("addEventListener", event, f, capture)
}

// ask shows the confirm dialog; then runs if the user says OK. Without
// <dialog> support it falls back to the browser's confirm().
func (a *app) ask(text, ok string, then func()) {
	d := a.el.confirm
	if d.Get("showModal").Type() != js.TypeFunction {
		if a.win.Call("confirm", text).Bool() {
			then()
		}
		return
	}
	a.mu.Lock()
	a.confirmThen = then
	a.confirmFocus = a.doc.Get("activeElement")
	a.mu.Unlock()
	setText(a.el.confirmText, text)
	setText(a.el.confirmOK, ok)
	showModal(d)
	a.el.confirmCancel.Call("focus") // the safe answer is the default
}

// showModal opens a <dialog> as a modal, or just opens it where
// showModal is missing.
func showModal(d js.Value) {
	if d.Get("open").Bool() {
		return
	}
	if d.Get("showModal").Type() == js.TypeFunction {
		if safeCall(d, "showModal") {
			return
		}
	}
	setAttr(d, "open", "")
}

// closeDialog closes a <dialog> if it is open.
func (a *app) closeDialog(d js.Value) {
	if !d.Get("open").Bool() {
		return
	}
	if d.Get("close").Type() == js.TypeFunction {
		d.Call("close")
		return
	}
	d.Call("removeAttribute", "open")
}

// copyButton makes btn copy text(). navigator.clipboard exists only on
// secure pages (https, localhost), and the page is usually plain http on a
// LAN address, so the fallback selects src (a readonly field or any
// element) and asks execCommand("copy"), which needs the click's user
// activation: it runs in the handler itself. If both fail, the text is
// left selected and the note says to copy it by hand.
func (a *app) copyButton(btn, src, note js.Value, text func() string) {
	a.on(btn, "click", func(js.Value) {
		setText(note, "")
		t := text()
		if t == "" {
			return
		}
		clip := a.win.Get("navigator").Get("clipboard")
		if clip.Truthy() && clip.Get("writeText").Type() == js.TypeFunction && a.win.Get("isSecureContext").Truthy() {
			p, ok := safeCallValue(clip, "writeText", t)
			if ok {
				go func() {
					if _, err := browser.Await(p); err == nil {
						copied(btn)
					} else if a.selectAndCopy(src) {
						copied(btn)
					} else {
						setText(note, T.CopyYourself)
					}
				}()
				return
			}
		}
		if a.selectAndCopy(src) {
			go copied(btn)
		} else {
			setText(note, T.CopyYourself)
		}
	})
}

// selectAndCopy selects el's text and runs the copy command; the text
// stays selected either way, ready for Ctrl+C.
func (a *app) selectAndCopy(el js.Value) bool {
	switch el.Get("tagName").String() {
	case "INPUT", "TEXTAREA":
		el.Call("focus")
		el.Call("select")
	default:
		sel := a.win.Call("getSelection")
		r := a.doc.Call("createRange")
		r.Call("selectNodeContents", el)
		sel.Call("removeAllRanges")
		sel.Call("addRange", r)
	}
	v, ok := safeCallValue(a.doc, "execCommand", "copy")
	return ok && v.Truthy()
}

// copied says "Copied" on the button for a moment.
func copied(btn js.Value) {
	setText(btn, T.Copied)
	sleep(1500)
	setText(btn, T.Copy)
}

// loadMessages makes T the page's catalog (#messages, which the server
// fills in the page's language) and PluralForm the page language's rule.
// A catalog that lacks texts, a server and client out of step, is said on
// the console: the page still works, with those texts blank.
func (a *app) loadMessages() {
	cat := map[string]string{}
	el := a.doc.Call("getElementById", "messages")
	if el.Truthy() {
		if err := decodeMessages([]byte(el.Get("textContent").String()), cat); err != nil {
			js.Global().Get("console").Call("error", "qrsync: the page's messages:", err.Error())
		}
	}
	m, missing := MessagesFrom(cat)
	if len(missing) > 0 {
		list := ""
		for _, k := range missing {
			list += " " + k
		}
		js.Global().Get("console").Call("error", "qrsync: the page lacks messages:", list[1:])
	}
	T = m
	if intl := js.Global().Get("Intl"); intl.Truthy() && intl.Get("PluralRules").Truthy() {
		rules := intl.Get("PluralRules").New(a.doc.Get("documentElement").Get("lang"))
		PluralForm = func(n int) string { return rules.Call("select", n).String() }
	}
}

// store keeps the session id in localStorage, and in memory where
// storage is refused (some private modes, or disabled by policy): the page
// then keeps its session for as long as it stays open.
type store struct {
	ls  js.Value // localStorage, or undefined
	mem string
}

// openStore reaches localStorage without letting a SecurityError, which
// merely reading window.localStorage can throw, take the client down.
func openStore() *store {
	ls, ok := safeCallValue(js.Global().Get("Reflect"), "get", js.Global(), "localStorage")
	if !ok || !ls.Truthy() {
		ls = js.Undefined()
	}
	return &store{ls: ls}
}

func (s *store) get() string {
	if s.ls.Truthy() {
		if v, ok := safeCallValue(s.ls, "getItem", StorageKey); ok {
			if v.Type() == js.TypeString {
				return v.String()
			}
			return ""
		}
	}
	return s.mem
}

func (s *store) set(id string) {
	s.mem = id
	if s.ls.Truthy() {
		safeCall(s.ls, "setItem", StorageKey, id)
	}
}

func (s *store) remove() {
	s.mem = ""
	if s.ls.Truthy() {
		safeCall(s.ls, "removeItem", StorageKey)
	}
}

// safeCall calls a method and reports whether it returned rather than
// threw.
func safeCall(v js.Value, method string, args ...any) bool {
	_, ok := safeCallValue(v, method, args...)
	return ok
}

// safeCallValue is safeCall with the result. syscall/js turns a throw into
// a panic; this turns it back into ok == false.
func safeCallValue(v js.Value, method string, args ...any) (r js.Value, ok bool) {
	defer func() {
		if recover() != nil {
			r, ok = js.Undefined(), false
		}
	}()
	return v.Call(method, args...), true
}

// browserLocal is the LocalTime of the page: the browser's own offset for
// each instant, summer time included.
func browserLocal(t Instant) int {
	d := js.Global().Get("Date").New(float64(t))
	return -d.Call("getTimezoneOffset").Int() * 60
}

// now is the browser's clock.
func now() Instant { return Instant(js.Global().Get("Date").Call("now").Float()) }

// sleep waits ms milliseconds.
func sleep(ms int64) { browser.Sleep(nil, ms) }

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
