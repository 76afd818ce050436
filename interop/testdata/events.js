// Reads the qrsync stream at ?events= with this browser's own EventSource
// and posts every event (type, lastEventId, data), every open and error,
// and a final report back to the test server. Posts carry a sequence
// number: fetches may arrive out of order.
(() => {
  'use strict';
  const url = new URLSearchParams(location.search).get('events');
  const events = [];
  const states = [];
  let seq = 0;
  const post = (path, body) =>
    fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
      .catch(() => {});
  const es = new EventSource(url);
  const record = (e) => {
    const ev = {type: e.type, lastEventId: e.lastEventId, data: e.data};
    events.push(ev);
    post('/event', {seq: seq++, event: ev});
  };
  // EventSource has no "any type" listener: listen to every type the
  // stream may send, and to message for events without a type. A type
  // missed here shows up as a difference with the decoder's view.
  for (const type of ['message', 'snapshot', 'image', 'removed', 'expired']) {
    es.addEventListener(type, record);
  }
  const state = (name) => {
    states.push(name);
    post('/state', {seq: seq++, state: name, readyState: es.readyState});
  };
  es.onopen = () => state('open');
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      state('closed');
      post('/report', {userAgent: navigator.userAgent, events, states});
    } else {
      state('reconnecting');
    }
  };
})();
