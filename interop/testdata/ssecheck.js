// Loads internal/ssecheck built for js/wasm, runs every case of cases.json
// through eventsource.Decoder in this browser, and posts the report back.
(async () => {
  'use strict';
  const report = (body) =>
    fetch('/report', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  try {
    const go = new Go();
    const {instance} = await WebAssembly.instantiateStreaming(fetch('/ssecheck.wasm'), go.importObject);
    go.run(instance); // returns when the Go program exits, which it does not
    if (typeof globalThis.ssecheckRun !== 'function') {
      throw new Error('ssecheckRun was not set by the wasm main');
    }
    const cases = new Uint8Array(await (await fetch('/cases.json')).arrayBuffer());
    const t0 = performance.now();
    const out = JSON.parse(globalThis.ssecheckRun(cases));
    const ms = performance.now() - t0;
    await report({userAgent: navigator.userAgent, ms, report: out});
  } catch (e) {
    await report({userAgent: navigator.userAgent, error: String((e && e.stack) || e)});
  }
})();
