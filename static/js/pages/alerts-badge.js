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
  let timer = null, subscribed = false, lastRead = 0;

  // Reads overlap in a burst: only the last one sent may draw, never an older answer arriving late.
  let sent = 0;
  async function refresh() {
    const mine = ++sent;
    let counts;
    try { counts = await Unimanager.api("GET", "/api/v1/alerts/alerts/summary/"); } catch (e) { return; }
    if (mine !== sent) return;
    if (!counts.topics.length) return; // this person sees no alerts: no badge
    link.classList.remove("d-none");
    Object.keys(parts).forEach((k) => {
      parts[k].textContent = counts[k];
      parts[k].classList.toggle("opacity-25", counts[k] === 0);
    });
    link.title = counts.total + " firing alerts";
    if (!subscribed) {
      subscribed = true;
      const rt = Unimanager.realtime();
      // A topic has one handler per page: this one, which also tells the page (the alert list listens).
      // The first event of a burst reads the counts at once; the rest of the burst (within 250 ms of
      // the last read) is coalesced into one more read at its end.
      const soon = (data) => {
        clearTimeout(timer);
        timer = setTimeout(() => { lastRead = Date.now(); refresh(); }, Math.max(0, lastRead + 250 - Date.now()));
        document.dispatchEvent(new CustomEvent("unimanager:alerts", {detail: data || {}}));
      };
      // Anything emitted between the first read and the subscription is caught by one more read
      // once the server confirms it (on every reconnect too); the burst rule coalesces them.
      const confirmed = () => { link.dataset.live = "1"; soon({event: "subscribed"}); };
      counts.topics.forEach((t) => rt.subscribe(t, soon, {onReset: () => soon({event: "reset"}),
                                                          onSubscribed: confirmed}));
    }
  }
  refresh();
})();
