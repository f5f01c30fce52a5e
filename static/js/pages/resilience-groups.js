/* Protection groups (resilience/groups.html): RPO bars follow each group's topic, and are re-read every
   5 seconds (RPO grows with time even when nothing is announced). */
(function () {
  const rt = Unimanager.realtime();
  UmDr.liveBadge(rt);
  const rows = Array.from(document.querySelectorAll("[data-group]"));
  function show(group) {
    const row = document.querySelector('[data-group="' + group.id + '"]');
    if (row) UmDr.paint(row.querySelector("[data-rpo-target]"), group.rpo_seconds);
  }
  async function refresh() {
    try {
      const page = await Unimanager.api("GET", "/api/v1/resilience/groups/?page_size=200");
      (page.results || []).forEach(show);
    } catch (e) { /* offline: the bars keep their last value */ }
  }
  rows.forEach((row) => rt.subscribe("resilience:" + row.dataset.group, (ev) => {
    if (ev.rpo_seconds !== undefined) show(ev);
  }));
  if (rows.length) setInterval(refresh, 5000);
})();
