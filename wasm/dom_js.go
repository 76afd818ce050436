//go:build js && wasm

package main

import (
	"strconv"
	"syscall/js"

	"qrsync/api/wire"
)

// render applies ops to the page, then brings the counts and time texts up
// to date. Callers hold a.mu.
func (a *app) render(ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case OpAdd:
			a.insert(op.Key, a.photoTile(op.Image, op.Arrived), op.Before)
		case OpPending:
			a.insert(op.Key, a.uploadTile(op.Upload), op.Before)
		case OpRemove:
			if t, ok := a.tiles[op.Key]; ok {
				a.keepFocus(t)
				t.Call("remove")
				delete(a.tiles, op.Key)
			}
		case OpMove:
			if t, ok := a.tiles[op.Key]; ok {
				a.el.gallery.Call("insertBefore", t, a.ref(op.Before))
			}
		case OpProgress:
			if t, ok := a.tiles[op.Key]; ok {
				a.showProgress(t, op.Upload)
			}
		case OpFailed:
			if t, ok := a.tiles[op.Key]; ok {
				nt := a.uploadTile(op.Upload)
				t.Call("replaceWith", nt)
				a.tiles[op.Key] = nt
			}
		case OpState:
			a.setState(op.State)
		case OpSession:
			a.showCode(op.Session)
			a.el.downloadAll.Set("href", wire.ArchivePath(op.Session.ID))
		case OpViewer:
			a.showViewer(op)
		}
	}
	if a.g == nil {
		return
	}
	n := a.g.Len()
	ended := a.g.State() == StateEnded
	setText(a.el.count, CountLabel(n))
	setHidden(a.el.empty, len(a.tiles) > 0)
	setHidden(a.el.downloadAll, n == 0 || ended)
	setText(a.el.downloadAll, DownloadAllLabel(n))
	a.showTexts(Describe(a.g.Session(), n, now(), a.local))
}

func (a *app) insert(k Key, t js.Value, before Key) {
	a.el.gallery.Call("insertBefore", t, a.ref(before))
	a.tiles[k] = t
}

// ref is the node to insert before: the tile with that key, or null for
// the end of the gallery.
func (a *app) ref(k Key) js.Value {
	if t, ok := a.tiles[k]; ok && k != (Key{}) {
		return t
	}
	return js.Null()
}

// keepFocus moves the focus off a tile about to go (its delete button, say)
// to a neighbour, so a keyboard user is not thrown back to the page's top.
func (a *app) keepFocus(t js.Value) {
	active := a.doc.Get("activeElement")
	if !active.Truthy() || !t.Call("contains", active).Bool() {
		return
	}
	for _, sib := range []string{"nextElementSibling", "previousElementSibling"} {
		if n := t.Get(sib); n.Truthy() {
			if f := n.Call("querySelector", "button"); f.Truthy() {
				f.Call("focus")
				return
			}
		}
	}
}

// setState shows the connection state, and the ended session when it is
// final.
func (a *app) setState(state string) {
	setAttr(a.el.status, "data-state", state)
	setText(a.el.status, StatusLabel(state))
	setAttr(a.body, "data-state", state)
	if state != StateEnded {
		return
	}
	setAttr(a.body, "data-session", "ended")
	setHidden(a.el.ended, false)
	a.el.address.Set("disabled", true)
	setHidden(a.el.elsewhere, true)
	setAttr(a.el.openElsewhere, "aria-expanded", "false")
	toggle(a.el.newSession, "primary", true)
	a.closeDialog(a.el.viewer)
	a.closeDialog(a.el.confirm)
	a.say("")
}

// codeSrcAttr on the QR image holds the address of the code it shows:
// boot.js may have shown it from a data: URL that came with the session
// (web/static/boot.js: CODE_SRC_ATTR), which is not the address to compare.
const codeSrcAttr = "data-code-src"

// showCode shows the session's code: the QR, the link and the commands,
// through the address the viewer picked.
func (a *app) showCode(s Session) {
	base, link := "", s.UploadURL
	if a.chosenAddr >= 0 && a.chosenAddr < len(a.addresses) && a.chosenAddr != a.defaultAddr {
		base = a.addresses[a.chosenAddr] // the server's own choice needs no override
		link = UploadURLFor(s.UploadURL, base)
	}
	if s.QRURL != "" {
		src := QRSource(s.QRURL, base, a.qrSize(), CodeVersion(s.UploadURL))
		if a.el.qr.Call("getAttribute", codeSrcAttr).String() != src {
			a.el.qr.Set("src", src)
			a.el.qr.Call("setAttribute", codeSrcAttr, src)
		}
	}
	a.el.link.Set("href", link)
	setText(a.el.link, link)
	setText(a.el.watchCmd, WatchCommand(link, s.ID))
	where := BaseOf(link)
	if where == "" {
		where = a.win.Get("location").Get("origin").String()
	}
	a.el.elsewhereURL.Set("value", ElsewhereURL(where, s.ID))
}

// showTexts puts the session's time texts on the page, touching only those
// that changed.
func (a *app) showTexts(t SessionTexts) {
	old := a.texts
	a.texts = t
	if t.CodeUntil != old.CodeUntil {
		setText(a.el.codeUntil, t.CodeUntil)
	}
	if t.CodeExpired != old.CodeExpired || old == (SessionTexts{}) {
		setHidden(a.el.codeExpired, !t.CodeExpired)
		toggle(a.el.codeBox, "expired", t.CodeExpired)
		toggle(a.el.newCode, "primary", t.CodeExpired)
	}
	if t.KeptUntil != old.KeptUntil {
		setText(a.el.keptUntil, t.KeptUntil)
		setHidden(a.el.keptUntil, t.KeptUntil == "")
	}
	if t.Warning != old.Warning {
		setText(a.el.warning, t.Warning)
		setHidden(a.el.warning, t.Warning == "")
	}
}

// photoTile builds one photo's tile. Every text goes in through
// textContent or an attribute, never innerHTML: file names come from the
// phone, and a name like "<img onerror=…>.jpg" must stay a name.
func (a *app) photoTile(img Image, arrived bool) js.Value {
	li := a.el0("li", "tile", "")
	setAttr(li, "data-id", img.ID)
	if arrived {
		toggle(li, "arrived", true)
	}
	open := a.el0("button", "open", "")
	open.Set("type", "button")
	setAttr(open, "aria-label", fill(T.OpenPhoto, "{name}", img.Name))
	title := img.Name
	if img.Width > 0 && img.Height > 0 {
		title += " · " + strconv.Itoa(img.Width) + " × " + strconv.Itoa(img.Height)
	}
	open.Set("title", title)

	thumb := a.el0("img", "thumb", "")
	thumb.Set("alt", img.Name)
	thumb.Set("decoding", "async")
	thumb.Set("loading", "lazy")
	thumb.Set("src", img.ThumbURL)

	caption := a.el0("span", "caption", "")
	caption.Call("append", a.el0("span", "name", img.Name), a.el0("span", "size", HumanSize(img.Size)))
	open.Call("append", thumb, caption)

	actions := a.el0("span", "tile-actions", "")
	dl := a.el0("a", "tile-action tile-download", "")
	dl.Set("href", img.URL)
	dl.Set("download", img.Name)
	label := fill(T.DownloadPhoto, "{name}", img.Name)
	setAttr(dl, "aria-label", label)
	dl.Set("title", label)
	del := a.el0("button", "tile-action tile-delete", "")
	del.Set("type", "button")
	label = fill(T.DeletePhoto, "{name}", img.Name)
	setAttr(del, "aria-label", label)
	del.Set("title", label)
	actions.Call("append", dl, del)

	li.Call("append", open, actions)
	return li
}

// uploadTile builds the tile of a file still arriving, or of one that
// failed.
func (a *app) uploadTile(u Upload) js.Value {
	li := a.el0("li", "tile", "")
	setAttr(li, "data-upload", u.ID)
	art := a.el0("span", "thumb placeholder", "")
	setAttr(art, "aria-hidden", "true")
	caption := a.el0("span", "caption", "")
	caption.Call("append", a.el0("span", "name", u.Name))
	if u.Failed {
		toggle(li, "failed", true)
		li.Set("title", u.Name)
		body := a.el0("span", "tile-body", "")
		body.Call("append", a.el0("span", "tile-error-title", T.UploadFailed), a.el0("span", "tile-error", u.Error))
		dismiss := a.el0("button", "tile-action tile-dismiss", "")
		dismiss.Set("type", "button")
		label := fill(T.DismissUpload, "{name}", u.Name)
		setAttr(dismiss, "aria-label", label)
		dismiss.Set("title", label)
		li.Call("append", art, caption, body, dismiss)
		return li
	}
	toggle(li, "uploading", true)
	li.Set("title", u.Name)
	bar := a.el0("progress", "progress", "")
	setAttr(bar, "aria-label", u.Name)
	li.Call("append", art, caption, bar, a.el0("span", "size", ""))
	a.showProgress(li, u)
	return li
}

// showProgress updates a placeholder's bar and size text. A <progress>
// without a value is indeterminate: the phone did not say how long the
// file is.
func (a *app) showProgress(li js.Value, u Upload) {
	bar := li.Call("querySelector", "progress")
	if bar.Truthy() {
		if u.Total > 0 {
			bar.Set("max", float64(u.Total))
			bar.Set("value", float64(min(u.Received, u.Total)))
		} else {
			bar.Call("removeAttribute", "value")
		}
	}
	if size := li.Call("querySelector", ".size"); size.Truthy() {
		setText(size, ProgressLabel(u.Received, u.Total))
	}
}

// showViewer follows the model's viewer: a photo at its place, or closed.
func (a *app) showViewer(op Op) {
	v := a.el.viewer
	img := op.Image
	if img.ID == "" {
		a.closeDialog(v)
		return
	}
	a.lastViewed = img.ID
	src := img.DisplayURL
	if src == "" {
		src = img.URL // a server without renditions
	}
	if a.el.viewerImg.Call("getAttribute", "src").String() != src {
		a.el.viewerImg.Set("src", src)
	}
	a.el.viewerImg.Set("alt", img.Name)
	setText(a.el.viewerName, img.Name)
	setText(a.el.viewerPos, PositionLabel(op.Index, op.Total))
	a.el.viewerPrev.Set("disabled", op.Index <= 0)
	a.el.viewerNext.Set("disabled", op.Index >= op.Total-1)
	a.el.viewerDownload.Set("href", img.URL)
	a.el.viewerDownload.Set("download", img.Name)
	if !v.Get("open").Bool() {
		showModal(v)
		a.el.viewerClose.Call("focus")
	}
}

// viewerClosed runs once the viewer has closed, by Esc, a button or the
// model: the model forgets it and the focus goes back to the photo's tile.
func (a *app) viewerClosed() {
	a.current(func(g *Gallery) {
		a.render(g.Close())
		if t, ok := a.tiles[ImageKey(a.lastViewed)]; ok {
			t.Call("querySelector", ".open").Call("focus")
		}
	})
}

// el0 makes an element with a class and a text.
func (a *app) el0(tag, class, text string) js.Value {
	e := a.doc.Call("createElement", tag)
	if class != "" {
		e.Set("className", class)
	}
	if text != "" {
		setText(e, text)
	}
	return e
}

// The DOM calls the page makes most, as functions kept out of line: every
// inlined js.Value call costs its own code in the wasm.

//go:noinline
func setAttr(el js.Value, name, value string) { el.Call("setAttribute", name, value) }

//go:noinline
func setText(el js.Value, s string) { el.Set("textContent", s) }

//go:noinline
func setHidden(el js.Value, hidden bool) { el.Set("hidden", hidden) }

//go:noinline
func toggle(el js.Value, class string, on bool) { el.Get("classList").Call("toggle", class, on) }
