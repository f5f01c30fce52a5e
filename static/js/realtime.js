/* Unimanager realtime client: one websocket per tab, topic subscriptions, resume after reconnect.
 *
 *   const rt = Unimanager.realtime();
 *   rt.subscribe("operation:op-...", (data, event) => { ... }, {onReset: () => reload()});
 */
(function () {
  "use strict";
  let shared = null;

  function Realtime(url) {
    this.url = url || ((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/");
    this.handlers = new Map(); // topic -> {fn, onReset, onError, lastSeq}
    this.socket = null;
    this.backoff = 500;
    this.listeners = {open: [], close: []};
    this.connect();
  }

  Realtime.prototype.on = function (name, fn) { this.listeners[name].push(fn); };

  Realtime.prototype.connect = function () {
    const ws = new WebSocket(this.url);
    this.socket = ws;
    ws.onopen = () => {
      this.backoff = 500;
      this.handlers.forEach((h, topic) => this._send({type: "subscribe", topic: topic, after: h.lastSeq}));
      this.listeners.open.forEach((fn) => fn());
    };
    ws.onmessage = (msg) => {
      let m;
      try { m = JSON.parse(msg.data); } catch (e) { return; }
      if (m.type === "signed_out") { this.signin = m.signin; return; } // the close (4401) follows
      const h = m.topic ? this.handlers.get(m.topic) : null;
      if (!h) return;
      if (m.type === "event") {
        if (h.lastSeq !== undefined && m.seq <= h.lastSeq) return;
        h.lastSeq = m.seq;
        h.fn(m.data, m);
      } else if (m.type === "reset") {
        // Missed events are gone: forget the old position so new events are not dropped.
        h.lastSeq = undefined;
        if (h.onReset) h.onReset();
      } else if (m.type === "error" && h.onError) {
        h.onError(m.code);
      } else if (m.type === "subscribed" && h.onSubscribed) {
        h.onSubscribed();
      }
    };
    ws.onclose = (ev) => {
      this.listeners.close.forEach((fn) => fn(ev));
      if (ev.code === 4401) { this.signedOut(); return; } // signed out: do not hammer the server
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  };

  // The session ended (signed out everywhere, revoked, a new password): say so, then go to sign in,
  // back to this page afterwards. Without the server's sign-in address, reloading lets the page's
  // own sign-in check decide where to go.
  Realtime.prototype.signedOut = function () {
    if (this.stopped) return;
    this.stopped = true;
    const target = this.signin ? this.signin + "?next=" + encodeURIComponent(location.pathname + location.search)
                               : location.href;
    const box = document.createElement("div");
    box.className = "alert alert-danger fixed-top m-3 shadow";
    box.setAttribute("role", "alert");
    box.setAttribute("data-testid", "signed-out");
    const title = document.createElement("strong");
    title.textContent = "You were signed out.";
    const link = document.createElement("a");
    link.href = target;
    link.textContent = "Sign in again";
    box.append(title, document.createTextNode(" This session has ended. "), link);
    document.body.appendChild(box);
    setTimeout(() => (this.signin ? location.assign(target) : location.reload()), 2500);
  };

  Realtime.prototype._send = function (obj) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(obj));
  };

  Realtime.prototype.subscribe = function (topic, fn, opts) {
    opts = opts || {};
    // lastSeq undefined: live events only; a number: also replay what came after it.
    this.handlers.set(topic, {fn: fn, onReset: opts.onReset, onError: opts.onError,
                              onSubscribed: opts.onSubscribed, lastSeq: opts.after});
    this._send({type: "subscribe", topic: topic, after: opts.after});
  };

  Realtime.prototype.unsubscribe = function (topic) {
    this.handlers.delete(topic);
    this._send({type: "unsubscribe", topic: topic});
  };

  window.Unimanager = window.Unimanager || {};
  window.Unimanager.realtime = function () {
    if (!shared) shared = new Realtime();
    return shared;
  };
  window.Unimanager.csrfToken = function () {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  };
  window.Unimanager.api = async function (method, path, body) {
    const res = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": window.Unimanager.csrfToken(),
                "Accept": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(data.message || ("HTTP " + res.status));
      err.status = res.status; err.body = data;
      throw err;
    }
    return data;
  };
})();
