// Feeds each decoding case to this browser's own EventSource, one after the
// other: /case/N answers with the case's bytes as an event stream. The
// stream's end fires error; the page then closes the EventSource (so it
// does not reconnect) and goes on. EventSource has no "any type" listener,
// so it listens to every type that any case expects, plus message.
(async () => {
  'use strict';
  const report = (body) =>
    fetch('/report', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  try {
    const list = await (await fetch('/cases-es.json')).json();
    const results = [];
    const t0 = performance.now();
    for (const c of list.cases) {
      const events = await new Promise((resolve) => {
        const got = [];
        const es = new EventSource('/case/' + c.n);
        const record = (e) => got.push({type: e.type, lastEventId: e.lastEventId, data: e.data});
        for (const type of list.types) es.addEventListener(type, record);
        es.onerror = () => { es.close(); resolve(got); };
      });
      results.push({n: c.n, events});
    }
    await report({userAgent: navigator.userAgent, ms: performance.now() - t0, results});
  } catch (e) {
    await report({userAgent: navigator.userAgent, error: String((e && e.stack) || e)});
  }
})();
