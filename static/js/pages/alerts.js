/* Alert list (alerts/alerts.html): rendered from the API, refreshed live from the alert topics;
 * acknowledge, silence for an hour, and resolve (alerts no rule resolves) from each row. */
(function () {
  "use strict";
  const rows = document.getElementById("alert-rows");
  const errorBox = document.getElementById("alert-error");
  const live = document.getElementById("alert-live");
  const esc = Unimanager.escapeHtml;
  const SEVERITY = {critical: "bg-danger", warning: "bg-warning", info: "bg-azure"};
  const STATE = {firing: "bg-danger-lt", pending: "bg-yellow-lt", resolved: "bg-success-lt", ok: "bg-success-lt",
                 insufficient_data: "bg-secondary-lt"};
  let filter = "active=true", timer = null, byId = {};

  function since(iso) {
    if (!iso) return "";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }

  function row(a) {
    const l = a.labels || {};
    const where = [l.resource_name, l.instance, l.platform_name || (l.platform ? "platform " + l.platform : ""), l.region]
      .filter(Boolean).map((v) => '<span class="badge bg-secondary-lt">' + esc(v) + "</span>").join("");
    const muted = a.silenced_by ? "silenced" : (a.inhibited_by ? "inhibited" : "");
    const handling = [a.acknowledged_by ? "acknowledged by " + esc(a.acknowledged_by) : "",
                      a.assignee ? "assigned to " + esc(a.assignee) : "", muted].filter(Boolean).join(" · ");
    const active = a.state === "firing" || a.state === "pending";
    const actions = [
      active && !a.acknowledged_by ? '<button class="btn btn-sm btn-outline-primary" data-action="acknowledge">Acknowledge</button>' : "",
      active && !a.silenced_by ? '<button class="btn btn-sm btn-outline-secondary" data-action="silence">Silence 1 h</button>' : "",
      a.state === "firing" && a.source !== "rule" ? '<button class="btn btn-sm btn-outline-success" data-action="resolve">Resolve</button>' : "",
    ].join(" ");
    return '<tr data-alert="' + esc(a.id) + '" data-state="' + esc(a.state) + '"' + (muted ? ' class="um-muted"' : "") + ">" +
      '<td><span class="badge ' + (SEVERITY[a.severity] || "") + ' text-white">' + esc(a.severity) + "</span></td>" +
      '<td class="um-name"><a href="/console/alerts/' + encodeURIComponent(a.id) + '/">' + esc(a.name) + "</a>" +
      '<div class="small text-secondary">' + esc((a.annotations || {}).summary || "") + "</div></td>" +
      '<td class="um-labels">' + where + "</td>" +
      '<td><span class="badge ' + (STATE[a.state] || "") + '" data-testid="state">' + esc(a.state.replace("_", " ")) + "</span></td>" +
      '<td class="text-end font-monospace">' + (a.value === null || a.value === undefined ? "" : esc(Math.round(a.value * 100) / 100)) + "</td>" +
      '<td class="text-nowrap">' + esc(since(a.state_changed_at)) + "</td>" +
      '<td class="small um-handling">' + handling + "</td>" +
      '<td class="um-actions"><div class="um-action-list">' + actions + "</div></td></tr>";
  }

  // Loads overlap (an event, the timer, a filter click): only the last one sent may draw, so an
  // older answer arriving late never replaces a newer list.
  let sent = 0;
  async function load() {
    const mine = ++sent;
    try {
      const [list, counts] = await Promise.all([
        Unimanager.api("GET", "/api/v1/alerts/alerts/?page_size=200" + (filter ? "&" + filter : "")),
        Unimanager.api("GET", "/api/v1/alerts/alerts/summary/")]);
      if (mine !== sent) return;
      byId = {};
      list.results.forEach((a) => { byId[a.id] = a; });
      rows.innerHTML = list.results.length ? list.results.map(row).join("")
        : '<tr><td colspan="8" class="text-secondary">No alerts here.</td></tr>';
      ["critical", "warning", "info"].forEach((k) => {
        document.querySelector('[data-count="' + k + '"]').textContent = counts[k];
      });
    } catch (e) { if (mine === sent) show(e.message); }
  }

  function show(message) { errorBox.textContent = message; errorBox.classList.remove("d-none"); }
  // The first change of a burst reloads at once; later ones within 250 ms of a load make one more at its end.
  let lastLoad = 0;
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(() => { lastLoad = Date.now(); load(); }, Math.max(0, lastLoad + 250 - Date.now()));
  }

  document.querySelectorAll("[data-filter]").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("[data-filter]").forEach((x) => {
      x.classList.toggle("active", x === b);
      x.classList.toggle("btn-primary", x === b);
    });
    filter = b.dataset.filter;
    load();
  }));

  rows.addEventListener("click", async (ev) => {
    const button = ev.target.closest("[data-action]");
    if (!button) return;
    const a = byId[button.closest("tr").dataset.alert];
    button.disabled = true;
    try {
      if (button.dataset.action === "silence") {
        const matchers = [{name: "alertname", op: "=", value: a.labels.alertname || a.name}];
        if (a.labels.resource) matchers.push({name: "resource", op: "=", value: a.labels.resource});
        await Unimanager.api("POST", "/api/v1/alerts/silences/", {
          organization: a.organization, matchers: matchers, comment: "Silenced from the alert list",
          ends_at: new Date(Date.now() + 3600 * 1000).toISOString()});
      } else {
        await Unimanager.api("POST", "/api/v1/alerts/alerts/" + a.id + "/" + button.dataset.action + "/", {});
      }
      errorBox.classList.add("d-none");
    } catch (e) { show(e.message); }
    load();
  });

  // The header badge follows the alert topics and tells the page of every event.
  document.addEventListener("unimanager:alerts", soon);
  const rt = Unimanager.realtime();
  rt.on("open", () => { live.textContent = "live"; });
  rt.on("close", () => { live.textContent = "reconnecting…"; });
  if (rt.socket && rt.socket.readyState === WebSocket.OPEN) live.textContent = "live";
  load();
  setInterval(load, 60000); // the "since" column and anything a lost socket missed
})();
