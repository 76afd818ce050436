// boot.js starts the PC client: it loads Go's wasm_exec.js, then fetches and
// runs app.wasm. It is the page's only script tag, because the
// Content-Security-Policy allows no inline script. If either file is
// missing (a fresh clone that was never built) the page says so instead of
// sitting there.
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

  var NOT_BUILT = "Can't start — the client is not built: run make";

  function say(text) {
    var m = document.getElementById("message");
    if (m) {
      m.textContent = text;
      m.hidden = false;
    }
    var s = document.getElementById("status");
    if (s) {
      s.textContent = "not running";
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
    var url = "/static/app.wasm";
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

  function start() {
    loadScript("/static/wasm_exec.js")
      .then(function () {
        if (typeof Go !== "function") {
          throw new Error("missing Go runtime");
        }
        var go = new Go();
        return instantiate(go).then(function (result) {
          return go.run(result.instance); // resolves only if the client exits
        });
      })
      .then(function () {
        say("The client stopped — reload the page.");
      })
      .catch(function (err) {
        if (/^missing /.test(err && err.message)) {
          say(NOT_BUILT);
        } else {
          say("The client failed to start: " + (err && err.message ? err.message : err));
        }
        if (window.console) {
          console.error("qrsync:", err);
        }
      });
  }

  if (typeof WebAssembly !== "object") {
    document.addEventListener("DOMContentLoaded", function () {
      say("This browser can't run the client (no WebAssembly support).");
    });
    return;
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
