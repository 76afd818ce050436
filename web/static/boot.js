// boot.js starts the PC client: it loads Go's wasm_exec.js, then fetches and
// runs app.wasm. It is the page's only script tag, because the
// Content-Security-Policy allows no inline script. If either file is
// missing (a fresh clone that was never built) the page says so instead of
// sitting there.
//
// It also paints the QR before the client has loaded: downloading and
// compiling app.wasm takes far longer than asking for a session, so this
// script asks at once — for the session the client is about to pick (the
// one a link hands over, else the stored one), or for a new one, which it
// stores where the client looks (localStorage "qrsync.session", or
// window.qrsyncLink when storage is refused). The client is started only
// once that is settled, so it picks up the same session rather than make
// another, and it computes the very same QR address (wasm/addresses.go:
// QRSource, QRSize, CodeVersion), so it neither fetches nor redraws the
// code. The code itself comes inside the session's answer (?qr=<size>),
// so that it needs no request of its own. Whatever goes wrong here is left
// to the client, which says so.
(function () {
  "use strict";

  // A link "<page>/#s=<id>" hands this page a session. The id is the
  // viewer's secret and the screen may be shared, so it leaves the address
  // bar now rather than once the client has loaded: the client finds it in
  // window.qrsyncLink, checks it and stores it.
  if (location.hash.indexOf("#s=") === 0) {
    window.qrsyncLink = location.hash;
    try {
      history.replaceState(null, "", location.pathname + location.search);
    } catch (e) { /* the client tries again */ }
  }

  // The asset URLs come from the page (the server names their hashed,
  // long-cached addresses there), with the plain ones as a fallback.
  var me = document.currentScript;
  var WASM = (me && me.getAttribute("data-wasm")) || "/static/app.wasm";
  var WASM_EXEC = (me && me.getAttribute("data-wasm-exec")) || "/static/wasm_exec.js";

  // The page's texts, in its language, as data (server/pages.go).
  var MESSAGES = (function () {
    try {
      return JSON.parse(document.getElementById("messages").textContent) || {};
    } catch (e) {
      return {};
    }
  })();

  // msg is the message key, each {slot} filled from slots.
  function msg(key, slots) {
    var s = MESSAGES[key] || key;
    for (var k in slots || {}) {
      s = s.split("{" + k + "}").join(slots[k]);
    }
    return s;
  }
  var STORAGE_KEY = "qrsync.session"; // wasm/session.go: StorageKey
  // CODE_SHOWN is sent on the document once the code is on screen, or will
  // not be: what waited for the first screen may come then (lang.js).
  var CODE_SHOWN = "qrsync:code-shown";
  var QR_CSS_PX = 280; // wasm/main_js.go: qrCSSSize
  var CODE_SRC_ATTR = "data-code-src"; // wasm/dom_js.go: codeSrcAttr

  function say(text) {
    var m = document.getElementById("message");
    if (m) {
      m.textContent = text;
      m.hidden = false;
    }
    var s = document.getElementById("status");
    if (s) {
      s.textContent = msg("pc.status.notRunning");
      s.setAttribute("data-state", "ended");
    }
    document.body.setAttribute("data-state", "ended");
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("missing " + src)); };
      document.head.appendChild(s);
    });
  }

  // instantiateStreaming compiles while the bytes arrive, but only when the
  // server says application/wasm; anything else falls back to a buffer.
  function instantiate(go) {
    var url = WASM;
    return fetch(url).then(function (resp) {
      if (!resp.ok) {
        throw new Error("missing " + url);
      }
      var ct = resp.headers.get("Content-Type") || "";
      if (WebAssembly.instantiateStreaming && ct.indexOf("application/wasm") === 0) {
        return WebAssembly.instantiateStreaming(resp, go.importObject).catch(function () {
          return fetch(url).then(function (r) { return r.arrayBuffer(); })
            .then(function (b) { return WebAssembly.instantiate(b, go.importObject); });
        });
      }
      return resp.arrayBuffer().then(function (b) {
        return WebAssembly.instantiate(b, go.importObject);
      });
    });
  }

  // --- The early QR -------------------------------------------------------

  // validID is wasm/session.go's ValidID.
  function validID(s) {
    return typeof s === "string" && s.length > 0 && s.length <= 128 && /^[A-Za-z0-9_-]+$/.test(s);
  }

  function storage() {
    try {
      return window.localStorage || null;
    } catch (e) {
      return null; // a SecurityError where storage is refused
    }
  }

  function stored() {
    try {
      var ls = storage();
      return ls ? ls.getItem(STORAGE_KEY) : null;
    } catch (e) {
      return null;
    }
  }

  // keep makes id the session the client picks: stored, or handed over as
  // a link where storage is refused (the client then stores it in memory).
  function keep(id) {
    try {
      var ls = storage();
      if (ls) {
        ls.setItem(STORAGE_KEY, id);
        if (ls.getItem(STORAGE_KEY) === id) {
          return;
        }
      }
    } catch (e) { /* refused: fall through */ }
    window.qrsyncLink = "#s=" + id;
  }

  // codeVersion is wasm/addresses.go's CodeVersion: FNV-1a (32 bits) of the
  // upload URL's bytes, in base 36.
  function codeVersion(uploadUrl) {
    var bytes = window.TextEncoder ? new TextEncoder().encode(uploadUrl) : null;
    var n = bytes ? bytes.length : uploadUrl.length;
    var h = 2166136261;
    for (var i = 0; i < n; i++) {
      h ^= bytes ? bytes[i] : uploadUrl.charCodeAt(i) & 0xff;
      h = Math.imul(h, 16777619) >>> 0;
    }
    return (h >>> 0).toString(36);
  }

  // qrSize is wasm/addresses.go's QRSize for the page's QR.
  function qrSize() {
    var dpr = Number(window.devicePixelRatio);
    if (!(dpr >= 1)) {
      dpr = 1;
    }
    return Math.min(Math.max(Math.floor(QR_CSS_PX * dpr + 0.5), 128), 1024);
  }

  // qrSource is wasm/addresses.go's QRSource with the server's own
  // address, for the qrUrl the server writes (a path without a query).
  // Another shape still shows; the client may then ask once more.
  function qrSource(s) {
    var q = "size=" + qrSize() + "&v=" + codeVersion(s.uploadUrl || "");
    return s.qrUrl + (s.qrUrl.indexOf("?") < 0 ? "?" : "&") + q;
  }

  // paint shows session s's code (and link) now, or once the page is
  // parsed. It resolves once the code is on the screen (or could not be),
  // so that the client, whose start-up holds the main thread for a while,
  // does not hold the code back.
  function paint(s) {
    return new Promise(function (resolve) {
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", function () { paint(s).then(resolve); });
        return;
      }
      if (!s || !validID(s.id) || typeof s.qrUrl !== "string" || s.qrUrl.charAt(0) !== "/") {
        resolve();
        return;
      }
      var link = document.getElementById("upload-url");
      if (link && typeof s.uploadUrl === "string" && /^https?:\/\//.test(s.uploadUrl) && link.textContent === "…") {
        link.setAttribute("href", s.uploadUrl);
        link.textContent = s.uploadUrl;
      }
      var img = document.getElementById("qr");
      if (!img || img.getAttribute("src")) {
        resolve();
        return;
      }
      var done = false;
      function shown() {
        if (done) {
          return;
        }
        done = true;
        // The frame after the one that draws it: the code is on screen.
        if (window.requestAnimationFrame) {
          requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(); }); });
        } else {
          resolve();
        }
      }
      img.addEventListener("load", shown);
      img.addEventListener("error", shown);
      setTimeout(shown, 1500); // a slow code must not keep the client waiting
      // The code came with the session (?qr=), saving a round trip; the
      // address it stands for is noted, so the client, which compares
      // that, does not fetch it again (wasm/dom_js.go: codeSrcAttr).
      var src = qrSource(s);
      img.setAttribute(CODE_SRC_ATTR, src);
      img.setAttribute("src", /^data:image\/png;base64,/.test(s.qrImage || "") ? s.qrImage : src);
    });
  }

  function json(resp) {
    return resp.ok ? resp.json() : null;
  }

  var acceptJSON = { headers: { "Accept": "application/json" } };

  // early asks for the session the client will show and paints its code.
  // It always resolves: when it ends, the client may start.
  function early() {
    if (!window.fetch || !window.Promise) {
      return Promise.resolve();
    }
    var id = "";
    var link = typeof window.qrsyncLink === "string" ? window.qrsyncLink : "";
    if (link.indexOf("#s=") === 0) {
      id = link.slice(3);
      if (!validID(id)) {
        return Promise.resolve(); // the client says what is wrong with it
      }
    } else if (validID(stored())) {
      id = stored();
    }
    var ask = id
      ? fetch("/api/sessions/" + id + "?qr=" + qrSize(), acceptJSON).then(json).then(function (s) {
        if (s && s.id === id) {
          return paint(s);
        }
      })
      : fetch("/api/sessions?qr=" + qrSize(), { method: "POST", headers: acceptJSON.headers }).then(json).then(function (s) {
        // Stored before the client starts, and only if it is usable, so
        // the client shows this session and never a second one.
        if (s && validID(s.id) && typeof s.eventsUrl === "string" && s.eventsUrl !== "") {
          keep(s.id);
          return paint(s);
        }
      });
    return ask.catch(function (err) {
      if (window.console) {
        console.warn("qrsync: early code:", err);
      }
    });
  }

  // --- Start --------------------------------------------------------------

  function start(ready) {
    // The client starts once the code is on screen: compiling app.wasm and
    // the Go runtime's start hold the CPU, and the main thread, long
    // enough to hold the code back. Its bytes are downloading meanwhile
    // (the page preloads them).
    var client = ready
      .then(function () { return loadScript(WASM_EXEC); })
      .then(function () {
        if (typeof Go !== "function") {
          throw new Error("missing Go runtime");
        }
        var go = new Go();
        return instantiate(go).then(function (result) {
          return go.run(result.instance); // resolves only if the client exits
        });
      });
    client
      .then(function () {
        say(msg("pc.boot.stopped"));
      })
      .catch(function (err) {
        if (/^missing /.test(err && err.message)) {
          say(msg("pc.boot.notBuilt"));
        } else {
          say(msg("pc.boot.failed", { reason: err && err.message ? err.message : String(err) }));
        }
        if (window.console) {
          console.error("qrsync:", err);
        }
      });
  }

  if (typeof WebAssembly !== "object") {
    document.addEventListener("DOMContentLoaded", function () {
      say(msg("pc.boot.noWasm"));
    });
    return;
  }
  // The script runs before the page's body is parsed (index.html says
  // why). The session is asked for at once; the code is painted, and the
  // client started, once the page is there.
  var ready = early().then(function () {
    window.qrsyncCodeShown = true;
    document.dispatchEvent(new Event(CODE_SHOWN));
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { start(ready); });
  } else {
    start(ready);
  }
})();
