// upload.js drives the phone's upload page: pick photos, and each one goes
// to POST /api/upload/{token} as its own request, with a progress bar, at
// most three at a time, retried on its own when the network or the server
// hiccups. No framework and no build step: it has to load fast on a phone
// that just scanned a code. Text from files and the server only ever goes in
// through textContent.
(function () {
  "use strict";

  var PARALLEL = 3;            // enough to fill Wi-Fi, few enough to keep each bar moving
  var RETRY_DELAYS = [1000, 2000, 4000]; // automatic retries after a network error or 5xx
  var SPEED_WINDOW = 3000;     // ms of history behind the MB/s figure

  // The page's texts, in its language, as data (server/pages.go).
  var MESSAGES = (function () {
    try { return JSON.parse(document.getElementById("messages").textContent) || {}; } catch (e) { return {}; }
  })();
  var LANG = document.documentElement.lang || "en";
  var plurals = typeof Intl === "object" && Intl.PluralRules ? new Intl.PluralRules(LANG) : null;

  // msg is the message key, each {slot} filled from slots.
  function msg(key, slots) {
    var s = MESSAGES[key] || key;
    for (var k in slots || {}) s = s.split("{" + k + "}").join(slots[k]);
    return s;
  }

  // count is msg for a message that counts n: the language's plural form
  // of key ("key|one", "key|other"), with {n} filled in.
  function count(key, n, slots) {
    var form = plurals ? plurals.select(n) : (n === 1 ? "one" : "other");
    var k = MESSAGES[key + "|" + form] !== undefined ? key + "|" + form : key + "|other";
    slots = slots || {};
    slots.n = n;
    return msg(k, slots);
  }

  var EXPIRED_TEXT = msg("phone.expired");

  var $ = function (id) { return document.getElementById(id); };
  var form = $("form"), filesInput = $("files"), cameraInput = $("camera");
  var notice = $("notice"), list = $("list"), overall = $("overall");
  var summary = $("summary"), speedEl = $("speed"), overallBar = $("overall-progress");
  var retryAll = $("retry-all"), hint = $("hint");

  var m = /\/u\/([^\/?#]+)/.exec(location.pathname);
  var token = m ? decodeURIComponent(m[1]) : "";
  var endpoint = "/api/upload/" + encodeURIComponent(token);
  // The native submit posts the same multipart form to the same place, so
  // even a submit that bypasses the handler below still delivers.
  form.action = endpoint;

  var items = [];              // every file picked, in order
  var seen = typeof WeakSet === "function" ? new WeakSet() : null; // File objects already queued
  var active = 0;
  var expired = false;
  var samples = [];            // [time, bytes sent so far] for the speed
  var sentDone = 0;            // bytes that left the phone in finished requests (for the speed)
  var delivered = 0;           // bytes of the photos the computer has
  var busySince = 0, busyMs = 0; // time spent with work pending, for the average speed

  // ---- formatting, the same rules as the PC page (wasm HumanSize) ----

  var UNITS = ["kB", "MB", "GB", "TB"];
  function humanSize(n) {
    if (!(n > 0)) return "0 B";
    if (n < 1000) return Math.round(n) + " B";
    var v = n;
    for (var i = 0; i < UNITS.length; i++) {
      v /= 1000;
      if (v < 99.95) return v.toFixed(1) + " " + UNITS[i];
      if (v < 999.5 || i === UNITS.length - 1) return v.toFixed(0) + " " + UNITS[i];
    }
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function say(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  // ---- picking ----

  function add(fileList) {
    if (!fileList || !fileList.length) return;
    if (expired) { say(EXPIRED_TEXT); return; }
    for (var i = 0; i < fileList.length; i++) {
      var f = fileList[i];
      if (seen) {
        if (seen.has(f)) continue; // 'change' dispatched twice for one pick
        seen.add(f);
      }
      items.push(newItem(f));
    }
    overall.hidden = false;
    hint.hidden = true;
    pump();
    refresh();
  }

  function onPick(ev) {
    var input = ev.target;
    add(input.files);
    // Let the same photo be picked again later (a retry by re-picking).
    try { input.value = ""; } catch (e) { /* old browsers */ }
  }

  filesInput.addEventListener("change", onPick);
  cameraInput.addEventListener("change", onPick);
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    add(filesInput.files);
    add(cameraInput.files);
  });

  // Dropping files works too, for when the link is opened on a computer.
  document.addEventListener("dragover", function (ev) { ev.preventDefault(); });
  document.addEventListener("drop", function (ev) {
    ev.preventDefault();
    if (ev.dataTransfer) add(ev.dataTransfer.files);
  });

  // ---- one row per file ----

  function newItem(file) {
    var it = {
      file: file, state: "", tries: 0, loaded: 0, total: file.size || 1, retryable: true,
      xhr: null, timer: 0, row: el("li", "file"),
    };
    it.row.setAttribute("data-name", file.name);

    var preview = el("img", "preview");
    preview.alt = "";
    preview.decoding = "async";
    // Fifty 12 MP photos decoded at once can take a phone's tab down:
    // only rows on screen decode their preview.
    preview.loading = "lazy";
    var url = URL.createObjectURL(file);
    var revoke = function () { URL.revokeObjectURL(url); };
    preview.addEventListener("load", revoke);
    preview.addEventListener("error", function () {
      revoke();
      // This browser can't draw it (HEIC outside Safari): an empty tile, not a broken-image icon;
      // the server accepts it all the same and makes the computer a JPEG of it.
      var blank = el("span", "preview broken");
      blank.setAttribute("aria-hidden", "true");
      if (preview.parentNode) preview.parentNode.replaceChild(blank, preview);
    });
    preview.src = url;

    var info = el("div", "info");
    var top = el("div", "top");
    top.appendChild(el("span", "name", file.name || "photo"));
    top.appendChild(el("span", "size", humanSize(file.size)));
    it.bar = el("progress", "bar");
    it.bar.max = 1;
    it.bar.value = 0;
    it.status = el("div", "status");
    it.retry = el("button", "retry", msg("phone.retry"));
    it.retry.type = "button";
    it.retry.hidden = true;
    it.retry.addEventListener("click", function () { retry(it); });
    info.appendChild(top);
    info.appendChild(it.bar);
    info.appendChild(it.status);
    it.row.appendChild(preview);
    it.row.appendChild(info);
    it.row.appendChild(it.retry);
    list.appendChild(it.row);
    setState(it, "queued", msg("phone.waiting"));
    return it;
  }

  function setState(it, state, text) {
    it.state = state;
    it.row.classList.remove("queued", "uploading", "done", "error");
    it.row.classList.add(state);
    it.row.setAttribute("data-state", state);
    it.status.textContent = text;
    it.retry.hidden = state !== "error" || expired || !it.retryable;
  }

  // ---- sending ----

  function pump() {
    if (expired) return;
    for (var i = 0; i < items.length && active < PARALLEL; i++) {
      var it = items[i];
      if (it.state === "queued" && !it.timer) send(it);
    }
  }

  function send(it) {
    active++;
    it.tries++;
    it.loaded = 0;
    if (!busySince) busySince = Date.now();
    setState(it, "uploading", msg("phone.sending"));

    var fd = new FormData();
    fd.append("file", it.file, it.file.name || "photo");
    var xhr = new XMLHttpRequest();
    it.xhr = xhr;
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable && e.total > 0) {
        it.total = e.total;
        it.loaded = e.loaded;
        it.bar.value = e.loaded / e.total;
        if (e.loaded < e.total) {
          it.status.textContent = msg("phone.sendingProgress",
            { sent: humanSize(Math.min(e.loaded, it.file.size)), total: humanSize(it.file.size) });
        } else {
          it.status.textContent = msg("phone.saving"); // all bytes out, the server is storing it
        }
      }
      refresh();
    };
    xhr.onload = function () { finish(it, xhr.status, xhr.responseText); };
    xhr.onerror = function () { finish(it, 0, ""); };
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = function () { finish(it, -1, ""); };
    xhr.send(fd);
  }

  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function finish(it, status, body) {
    if (it.xhr === null) return; // already settled (abort after expiry)
    it.xhr = null;
    active--;
    sentDone += it.loaded;
    it.loaded = 0;
    var data = parse(body);
    it.retryable = true;

    if (status === 200 || status === 201) {
      it.bar.value = 1;
      delivered += it.file.size;
      var dup = data && data.duplicate && data.duplicate.length > 0;
      setState(it, "done", msg(dup ? "phone.already" : "phone.received"));
      if (dup) it.row.classList.add("duplicate");
    } else if (status === 404 || status === 410) {
      // The server says why: replaced by a new code, expired, or ended.
      expire(data && data.error && data.error.message);
    } else if (status === -1) {
      if (!expired) setState(it, "error", msg("phone.stopped"));
    } else if (status >= 400 && status < 500) {
      // The server's words, as they are: they say what to do (format, size…).
      var text = data && data.error && data.error.message;
      // Trying the same bytes again only helps when the server was busy.
      it.retryable = status === 408 || status === 429;
      setState(it, "error", text || msg("phone.refused", { status: status }));
      it.bar.value = 0;
    } else if (it.tries <= RETRY_DELAYS.length && !expired) {
      var delay = RETRY_DELAYS[it.tries - 1];
      setState(it, "queued", msg(status === 0 ? "phone.lostRetrying" : "phone.problemRetrying",
        { seconds: delay / 1000 }));
      it.bar.value = 0;
      it.timer = setTimeout(function () { it.timer = 0; pump(); }, delay);
    } else {
      var why = status === 0
        ? msg("phone.unreachable")
        : ((data && data.error && data.error.message) || msg("phone.problem", { status: status }));
      setState(it, "error", why);
      it.bar.value = 0;
    }
    pump();
    refresh();
  }

  function expire(why) {
    if (expired) return;
    expired = true;
    say(why || EXPIRED_TEXT);
    document.body.classList.add("expired");
    hint.hidden = true;
    filesInput.disabled = true;
    cameraInput.disabled = true;
    items.forEach(function (it) {
      if (it.timer) { clearTimeout(it.timer); it.timer = 0; }
      if (it.state === "done" || (it.state === "error" && !it.xhr)) return; // keep its own reason
      if (it.xhr) it.xhr.abort();
      it.bar.value = 0;
      setState(it, "error", msg("phone.notSent"));
    });
  }

  function retry(it) {
    if (expired || it.state !== "error") return;
    it.tries = 0;
    it.bar.value = 0;
    setState(it, "queued", msg("phone.waiting"));
    pump();
    refresh();
  }

  retryAll.addEventListener("click", function () {
    items.forEach(function (it) { if (it.state === "error" && it.retryable) retry(it); });
  });

  // ---- totals ----

  function refresh() {
    var n = items.length, done = 0, failed = 0, canRetry = 0, pending = 0, inflight = 0;
    var total = 0, sent = 0;
    items.forEach(function (it) {
      if (it.state === "error") { failed++; if (it.retryable) canRetry++; return; } // the bar measures what can still arrive
      total += it.file.size;
      if (it.state === "done") { done++; sent += it.file.size; }
      else pending++;
      if (it.state === "uploading") {
        inflight += it.loaded;
        sent += it.file.size * (it.total ? Math.min(1, it.loaded / it.total) : 0);
      }
    });
    overallBar.value = total ? Math.min(1, sent / total) : 0;

    var now = Date.now();
    var bytes = sentDone + inflight;
    samples.push([now, bytes]);
    while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW) samples.shift();

    if (pending > 0) {
      summary.textContent = msg(failed ? "phone.progressFailed" : "phone.progress", { done: done, n: n, failed: failed });
      var dt = (now - samples[0][0]) / 1000;
      var rate = dt > 0.3 ? (bytes - samples[0][1]) / dt : 0;
      speedEl.textContent = rate > 0 ? msg("phone.rate", { rate: (rate / 1e6).toFixed(1) }) : "";
      document.body.classList.add("busy");
    } else {
      if (busySince) { busyMs += now - busySince; busySince = 0; }
      summary.textContent = failed === 0
        ? count("phone.allReceived", n)
        : msg("phone.someFailed", { done: done, n: n, failed: failed });
      var secs = busyMs / 1000;
      speedEl.textContent = secs > 0.5 && delivered > 0
        ? msg("phone.total", { size: humanSize(delivered), rate: (delivered / secs / 1e6).toFixed(1) })
        : "";
      samples = [];
      document.body.classList.remove("busy");
    }
    summary.setAttribute("data-done", String(done));
    summary.setAttribute("data-failed", String(failed));
    summary.setAttribute("data-total", String(n));
    overall.classList.toggle("failed", pending === 0 && failed > 0);
    overall.classList.toggle("complete", pending === 0 && failed === 0 && n > 0);
    retryAll.hidden = expired || pending > 0 || canRetry < 2;
  }

  // Leaving mid-upload loses the photos in flight: ask first.
  window.addEventListener("beforeunload", function (ev) {
    if (active > 0) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });

  if (!token) {
    expire();
  }
})();
