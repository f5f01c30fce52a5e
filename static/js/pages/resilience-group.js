/* A protection group (resilience/group.html): live RPO of the group and its members, the dry run's steps
   and cloud calls, and starting a plan (then the run page follows it). */
(function () {
  const root = document.getElementById("group"), groupId = root.dataset.group, ns = root.dataset.ns;
  const rt = Unimanager.realtime();
  UmDr.liveBadge(rt);
  const base = ns === "resilience-portal" ? "/portal/resilience/" : "/console/resilience/";
  function show(group) {
    const card = document.querySelector("[data-group-rpo]");
    card.querySelector("[data-role=rpo-value]").textContent =
      group.rpo_seconds === null ? "—" : Math.round(group.rpo_seconds) + " s";
    UmDr.paint(card.querySelector("[data-rpo-target]"), group.rpo_seconds);
    (group.members || []).forEach((m) => {
      const row = document.querySelector('[data-member="' + m.id + '"]');
      if (row) UmDr.paint(row.querySelector("[data-rpo-target]"), m.rpo_seconds);
    });
    const checked = card.querySelector("[data-role=checked]");
    if (group.rpo_checked_at) checked.textContent = new Date(group.rpo_checked_at).toLocaleTimeString();
  }
  async function refresh() {
    try { show(await Unimanager.api("GET", "/api/v1/resilience/groups/" + groupId + "/")); } catch (e) { /* keep */ }
  }
  // The run page is reached once: the start answer and the live "plan started" notice both lead there, and a
  // second assignment would abort the navigation already under way.
  let leaving = null;
  function follow(run) {
    if (leaving) return;
    leaving = base + "runs/" + run + "/";
    location.href = leaving;
  }
  rt.subscribe("resilience:" + groupId, (ev) => {
    if (ev.event === "plan_started") follow(ev.plan);
    else refresh();
  });
  setInterval(refresh, 3000);

  const kind = document.getElementById("plan-kind"), err = document.getElementById("plan-error");
  if (!kind) return;
  function options() { return document.getElementById("plan-approval").checked ? {approval: true} : {}; }
  function fail(e) { err.textContent = e.message; err.classList.remove("d-none"); }
  function cell(text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
  document.getElementById("dry-run").addEventListener("click", async () => {
    err.classList.add("d-none");
    try {
      const dry = await Unimanager.api("POST", "/api/v1/resilience/groups/" + groupId + "/dry-run/",
                                       {kind: kind.value, options: options()});
      const body = document.getElementById("dry-run-steps");
      body.replaceChildren(...dry.steps.map((s) => {
        const tr = document.createElement("tr");
        tr.dataset.testid = "dry-run-step";
        const calls = document.createElement("td");
        s.calls.forEach((c) => {
          const line = document.createElement("div");
          line.className = "small font-monospace" + (c.write ? "" : " text-secondary");
          line.textContent = c.call + " " + (c.target || "") + " @ " + c.region;
          calls.appendChild(line);
        });
        tr.append(cell(String(s.seq), "text-secondary"), cell(String(s.batch)), cell(s.title + (s.critical ? "" : " (optional)")), calls);
        return tr;
      }));
      document.getElementById("dry-run-summary").textContent = dry.steps.length + " steps in " + dry.batches +
        " batches · " + dry.calls + " cloud calls · " + dry.writes_on_production + " writes on production";
      document.getElementById("dry-run-card").classList.remove("d-none");
    } catch (e) { fail(e); }
  });
  document.getElementById("run-plan").addEventListener("click", async () => {
    err.classList.add("d-none");
    try {
      const run = await Unimanager.api("POST", "/api/v1/resilience/groups/" + groupId + "/run/",
                                       {kind: kind.value, options: options()});
      follow(run.id);
    } catch (e) { fail(e); }
  });
})();
