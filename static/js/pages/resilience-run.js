/* A plan run (resilience/run.html): each started step follows its operation live (operations.js); a step
   that starts, ends or waits for approval, and the plan's end, re-read the run by API. */
(function () {
  const status = document.getElementById("run-status"), runId = status.dataset.run, groupId = status.dataset.group;
  const rt = UmOps.rt;
  UmDr.liveBadge(rt);
  let finished = ["succeeded", "failed", "cancelled"].includes(status.textContent.trim());
  async function reload() {
    const run = await Unimanager.api("GET", "/api/v1/resilience/runs/" + runId + "/");
    run.steps.forEach((s) => {
      const row = document.querySelector('[data-step="' + s.id + '"]');
      if (!row) return;
      if (s.operation && row.dataset.op !== s.operation) { row.dataset.op = s.operation; UmOps.follow(row); }
      row.dataset.status = s.status;
      const badge = UmDr.badge(s.status);
      badge.setAttribute("data-role", "op-status");
      row.querySelector("[data-role=op-status]").replaceWith(badge);
      if (s.error) row.querySelector("[data-role=op-message]").textContent = s.error;
      const bar = row.querySelector(".progress-bar");
      if (s.status === "succeeded") { bar.style.width = "100%"; bar.classList.add("bg-success"); }
      if (s.status === "failed") bar.classList.add("bg-danger");
    });
    status.replaceChildren(UmDr.badge(run.status));
    if (["succeeded", "failed", "cancelled"].includes(run.status) && !finished) { finished = true; setTimeout(() => location.reload(), 300); }
  }
  rt.subscribe("resilience:" + groupId, (ev) => { if (ev.plan === runId) reload().catch(() => {}); });
  if (!finished) setInterval(() => reload().catch(() => {}), 2000);
  document.querySelectorAll("[data-approve]").forEach((b) => b.addEventListener("click", async () => {
    b.disabled = true;
    try { await Unimanager.api("POST", "/api/v1/resilience/steps/" + b.dataset.approve + "/approve/"); b.remove(); reload(); }
    catch (e) { b.disabled = false; b.title = e.message; }
  }));
})();
