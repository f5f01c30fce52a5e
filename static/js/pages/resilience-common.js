/* Shared by the disaster-recovery pages: RPO bars against the target (same rule as the server's rpo_bar)
   and the live badge of the realtime connection. DOM is built with textContent only. */
window.UmDr = (function () {
  function bar(rpo, target) {
    if (rpo === null || rpo === undefined) return {width: 100, color: "bg-secondary", label: "no recovery point"};
    const ratio = rpo / Math.max(1, target);
    return {width: Math.max(2, Math.min(100, Math.round(ratio * 50))),
            color: ratio <= 0.5 ? "bg-green" : ratio <= 1 ? "bg-yellow" : "bg-red", label: Math.round(rpo) + " s"};
  }
  function paint(el, rpo) {
    if (!el) return;
    const b = bar(rpo, Number(el.dataset.rpoTarget)), fill = el.querySelector("[data-role=rpo-bar]");
    fill.className = "progress-bar " + b.color; fill.style.width = b.width + "%";
    el.querySelector("[data-role=rpo-label]").textContent = b.label;
  }
  function liveBadge(rt) {
    const live = document.getElementById("live");
    if (!live) return;
    rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
    rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  }
  function badge(status) {
    const span = document.createElement("span");
    span.className = Unimanager.operationBadgeClass(status); span.textContent = status;
    return span;
  }
  return {bar: bar, paint: paint, liveBadge: liveBadge, badge: badge};
})();
