/* The header badge of firing alerts by severity, on every console and portal page of a signed-in
 * person who may see alerts; it follows the alert topics over the page's one websocket and passes
 * each event on to the page as a "unimanager:alerts" DOM event. */
(function () {
  "use strict";
  const header = document.querySelector("header .navbar-nav.order-md-last");
  if (!header || !window.Unimanager || !Unimanager.api) return;
  const link = document.createElement("a");
  link.href = "/console/alerts/";
  link.className = "nav-link px-2 me-2 d-none";
  link.dataset.testid = "alert-badge";
  link.title = "Firing alerts";
  const icon = document.createElement("i");
  icon.className = "ti ti-bell me-1";
  link.appendChild(icon);
  const parts = {};
  [["critical", "bg-danger"], ["warning", "bg-warning"], ["info", "bg-azure"]].forEach(([name, colour]) => {
    const b = document.createElement("span");
    b.className = "badge " + colour + " text-white ms-1";
    b.dataset.severity = name;
    b.textContent = "0";
    parts[name] = b;
    link.appendChild(b);
  });
  header.insertBefore(link, header.firstChild);
  const KEYS = ["critical", "warning", "info", "total"];
  let timer = null, due = 0, subscribed = false, lastRead = 0;
  // What is drawn, and each followed topic's share of it: an event that carries its topic's new
  // counts moves the badge by the difference, with no read.
  let shown = null, byTopic = {};

  function draw(counts) {
    shown = counts;
    link.classList.remove("d-none");
    Object.keys(parts).forEach((k) => {
      parts[k].textContent = counts[k];
      parts[k].classList.toggle("opacity-25", counts[k] === 0);
    });
    link.title = counts.total + " firing alerts";
  }

  // Reads overlap in a burst: only the last one sent may draw, never an older answer arriving late
  // (nor one sent before counts an event carried).
  let sent = 0;
  async function refresh() {
    const mine = ++sent;
    let counts;
    try { counts = await Unimanager.api("GET", "/api/v1/alerts/alerts/summary/"); } catch (e) { return; }
    if (mine !== sent) return;
    if (!counts.topics.length) return; // this person sees no alerts: no badge
    byTopic = counts.by_topic || {};
    draw(counts);
    if (!subscribed) {
      subscribed = true;
      const rt = Unimanager.realtime();
      // A topic has one handler per page: this one, which also tells the page (the alert list listens).
      // The first event of a burst reads the counts at once (one that carries them draws them and
      // reads at the burst's end, to be sure); the rest of the burst (within 250 ms of the last
      // read) is coalesced into one more read at its end.
      const readAt = (when) => {
        if (timer !== null && due <= when) return; // a read already comes as soon
        clearTimeout(timer);
        due = when;
        timer = setTimeout(() => { timer = null; lastRead = Date.now(); refresh(); }, Math.max(0, when - Date.now()));
      };
      const soon = (topic, data) => {
        const was = byTopic[topic];
        const next = data && data.counts;
        if (was && next && shown) {
          const moved = {};
          KEYS.forEach((k) => { moved[k] = Math.max(0, (shown[k] || 0) + (next[k] || 0) - (was[k] || 0)); });
          byTopic[topic] = next;
          sent++;
          draw(moved);
          readAt(Math.max(lastRead, Date.now()) + 250);
        } else {
          readAt(lastRead + 250);
        }
        document.dispatchEvent(new CustomEvent("unimanager:alerts", {detail: data || {}}));
      };
      // Anything emitted between the first read and the subscription is caught by one more read
      // once the server confirms it (on every reconnect too); the burst rule coalesces them.
      counts.topics.forEach((t) => rt.subscribe(t, (data) => soon(t, data), {
        onReset: () => soon(t, {event: "reset"}),
        onSubscribed: () => { link.dataset.live = "1"; soon(t, {event: "subscribed"}); }}));
    }
  }
  refresh();
})();
