/* A script run's page (templates/provisioning/script_run.html): each instance's status, exit code and
 * output, reloaded from the API whenever the run's topic (script_run:<id>) or its operation announces a
 * change, so output shows up while the script runs. Built with textContent only. */
(function () {
  "use strict";
  const root = document.getElementById("script-run");
  if (!root) return;
  const id = root.dataset.run;
  const api = "/api/v1/provisioning/script-runs/" + id + "/";
  const live = document.getElementById("live");
  const stop = document.getElementById("run-stop");
  const errorBox = document.getElementById("run-error");
  const BADGES = {queued: "bg-yellow-lt", running: "bg-blue-lt", success: "bg-success-lt", failed: "bg-danger-lt",
    timeout: "bg-orange-lt", stopped: "bg-secondary-lt", error: "bg-danger-lt"};
  const LABELS = {queued: "Queued", running: "Running", success: "Succeeded", failed: "Failed", timeout: "Timed out",
    stopped: "Stopped", error: "Not run"};
  window.scriptRunEvents = window.scriptRunEvents || [];

  function paintTarget(card, t) {
    card.dataset.status = t.status;
    const status = card.querySelector("[data-role=status]");
    status.className = "badge " + (BADGES[t.status] || "");
    status.textContent = LABELS[t.status] || t.status;
    card.querySelector("[data-role=exit]").textContent = t.exit_code === null || t.exit_code === undefined ? "exit —" : "exit " + t.exit_code;
    const output = card.querySelector("[data-role=output]");
    if (output.textContent !== t.output) {
      const atEnd = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
      output.textContent = t.output;
      if (atEnd) output.scrollTop = output.scrollHeight;
    }
    const error = card.querySelector("[data-role=error]");
    error.textContent = [t.error_code, t.error].filter(Boolean).join(" ");
    error.classList.toggle("d-none", !error.textContent);
    card.querySelector("[data-role=truncated]").classList.toggle("d-none", !t.output_truncated);
  }
  function paintOperation(op) {
    const badge = document.getElementById("run-status");
    badge.replaceChildren(Unimanager.operationBadge(op.status, "run-operation-status"));
    document.getElementById("run-message").textContent = op.status === "failed" ? (op.error || op.message) : op.message;
    const bar = document.getElementById("run-progress");
    bar.style.width = op.progress + "%";
    bar.classList.toggle("bg-success", op.status === "succeeded");
    bar.classList.toggle("bg-danger", op.status === "failed");
    if (stop) stop.classList.toggle("d-none", ["succeeded", "failed", "cancelled"].includes(op.status));
  }
  let loading = null, again = false;
  async function reload() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      try {
        const run = await Unimanager.api("GET", api);
        run.targets.forEach((t) => {
          const card = root.querySelector("[data-target='" + t.id + "']");
          if (card) paintTarget(card, t);
        });
        paintOperation(run.operation);
      } catch (e) { errorBox.textContent = e.message; errorBox.classList.remove("d-none"); }
    })();
    await loading;
    loading = null;
    if (again) { again = false; reload(); }
  }
  root.querySelectorAll("[data-target]").forEach((card) => {
    const st = card.dataset.status;
    const badge = card.querySelector("[data-role=status]");
    badge.classList.add(BADGES[st] || "bg-secondary-lt");
  });

  const rt = Unimanager.realtime();
  rt.on("open", () => online());
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  function online() { live.textContent = "live"; live.classList.remove("offline"); }
  rt.subscribe("script_run:" + id, (event) => { window.scriptRunEvents.push(event); reload(); },
    {onReset: reload, onSubscribed: () => { online(); reload(); }});
  rt.subscribe("operation:" + root.dataset.operation, (op) => { paintOperation(op); if (["succeeded", "failed"].includes(op.status)) reload(); },
    {onReset: reload});
  if (stop) stop.addEventListener("click", async () => {
    if (!confirm("Stop the script where it still runs?")) return;
    stop.disabled = true;
    try { await Unimanager.api("POST", api + "stop/"); }
    catch (e) { errorBox.textContent = e.message; errorBox.classList.remove("d-none"); stop.disabled = false; }
  });
  reload();
})();
