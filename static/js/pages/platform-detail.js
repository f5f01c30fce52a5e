/* Cloud platform page (clouds/platform_detail.html): "Sync now", the live progress of a sync and the
 * history of the last ones. */
(function () {
  const platform = document.getElementById("sync-now").dataset.platform;
  const rt = Unimanager.realtime();
  const live = document.getElementById("sync-live");
  rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  let current = null;
  window.syncEvents = [];

  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

  async function history() {
    const body = await Unimanager.api("GET", "/api/v1/resources/syncs/?page_size=10&platform=" + platform);
    const tbody = document.getElementById("sync-history");
    tbody.replaceChildren();
    if (!body.results.length) {
      const none = cell("No sync yet.");
      none.colSpan = 7; none.className = "text-secondary";
      tbody.appendChild(document.createElement("tr")).appendChild(none);
    }
    for (const run of body.results) {
      const tr = document.createElement("tr");
      tr.append(cell(new Date(run.started_at).toLocaleString()), cell(run.status), cell(run.fetched), cell(run.created),
                cell(run.updated), cell(run.deleted), cell(run.error));
      tbody.appendChild(tr);
    }
    const running = body.results.find((r) => r.status === "running");
    if (running && !current) follow(running.operation);
  }

  function render(op) {
    window.syncEvents.push(op);
    document.getElementById("sync-message").textContent = op.message || op.status;
    const bar = document.getElementById("sync-bar");
    bar.style.width = op.progress + "%";
    bar.setAttribute("aria-valuenow", op.progress);
    bar.classList.toggle("bg-danger", op.status === "failed");
    bar.classList.toggle("bg-success", op.status === "succeeded");
    document.getElementById("sync-status").replaceChildren(Unimanager.operationBadge(op.status, "sync-status"));
    const err = document.getElementById("sync-error");
    if (op.status === "failed") { err.textContent = op.error; err.classList.remove("d-none"); } else { err.classList.add("d-none"); }
    if (["succeeded", "failed", "cancelled"].includes(op.status)) { history(); }
  }

  function follow(operationId) {
    if (current) rt.unsubscribe(current);
    current = "operation:" + operationId;
    rt.subscribe(current, render, {after: 0, onReset: async () => render(await Unimanager.api("GET", "/api/v1/core/operations/" + operationId + "/"))});
  }

  document.getElementById("sync-now").addEventListener("click", async () => {
    const err = document.getElementById("sync-error");
    err.classList.add("d-none");
    try {
      const started = await Unimanager.api("POST", "/api/v1/resources/syncs/", {platform: platform});
      window.syncEvents = [];
      follow(started.operation.id);
      history();
    } catch (e) {
      err.textContent = e.message;
      err.classList.remove("d-none");
    }
  });
  history();
})();
