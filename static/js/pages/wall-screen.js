/* Wall screen (screens/dashboard.html): kiosk mode, no controls. Shows one dashboard or rotates
 * through a display token's playlist; fills the screen at any size without scrollbars; reconnects
 * by itself (realtime.js) and re-reads everything on reconnect; says loudly when the connection is
 * lost or data is stale; reloads when a dashboard it shows is edited or created. */
(function () {
  "use strict";
  const screen = JSON.parse(document.getElementById("screen-data").textContent);
  const clock = document.getElementById("screen-clock");
  const live = document.getElementById("screen-live");
  const banner = document.getElementById("screen-banner");
  const title = document.getElementById("screen-title");
  const page = document.getElementById("screen-page");
  const sections = Array.from(document.querySelectorAll(".um-kiosk-board"));
  const started = Date.now();
  let lastGood = null;
  let wasConnected = false;
  const boards = [];

  const tick = () => { clock.textContent = new Date().toLocaleTimeString([], {hour12: false}); };
  tick(); setInterval(tick, 1000);

  // Edits arrive as "saved" on the dashboard's topic; a short random delay keeps a wall of screens
  // from reloading in the same millisecond.
  const reload = () => setTimeout(() => location.reload(), 200 + Math.random() * 800);

  const rt = Unimanager.realtime();
  screen.boards.forEach((b, i) => {
    if (b.missing) {
      rt.subscribe(b.topic, (data) => { if (data.event === "created" || data.event === "saved") reload(); });
      return;
    }
    const container = sections[i].querySelector("[data-board]");
    boards.push(Unimanager.dashboards.board(container, b, {mode: "screen", dark: true, onSaved: reload, onStatus: update}));
  });

  function update() {
    const now = Date.now();
    const states = boards.map((b) => b.status());
    const connected = rt.socket && rt.socket.readyState === WebSocket.OPEN;
    if (connected) wasConnected = true;
    const failed = states.some((s) => s.fetchFailed);
    const stale = states.reduce((n, s) => n + s.stale, 0);
    if (connected && !failed) lastGood = now;
    live.textContent = connected ? "live" : (wasConnected ? "offline" : "connecting");
    live.classList.toggle("offline", !connected);
    let text = "", level = "";
    const since = lastGood ? " Values shown are from " + new Date(lastGood).toLocaleTimeString([], {hour12: false}) + "." : "";
    if (!connected && (wasConnected || now - started > 5000)) {
      text = "Connection to the server lost: reconnecting." + since; level = "bad";
    } else if (failed) {
      text = "The server does not answer with data: retrying." + since; level = "bad";
    } else if (stale) {
      text = stale === 1 ? "1 widget has had no new data for too long: its value may be out of date."
                         : stale + " widgets have had no new data for too long: their values may be out of date.";
      level = "warn";
    }
    banner.textContent = text;
    banner.classList.toggle("d-none", !text);
    banner.classList.toggle("bad", level === "bad");
    banner.classList.toggle("warn", level === "warn");
    document.body.classList.toggle("um-disconnected", level === "bad");
  }
  rt.on("open", update);
  rt.on("close", update);
  setInterval(update, 1000);

  // The playlist: one dashboard at a time, each for `rotate` seconds.
  let current = 0;
  function showPage(i) {
    sections.forEach((s, j) => s.classList.toggle("active", j === i));
    const b = screen.boards[i];
    if (b) title.textContent = b.missing ? b.uid : b.document.title;
    page.textContent = sections.length > 1 ? (i + 1) + " / " + sections.length : "";
    window.dispatchEvent(new Event("resize"));
  }
  showPage(0);
  if (sections.length > 1) setInterval(() => { current = (current + 1) % sections.length; showPage(current); }, screen.rotate * 1000);
})();
