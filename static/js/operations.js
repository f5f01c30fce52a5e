/* Live operation rows (my resources, request detail): every [data-op] element follows operation:<id>. */
window.UmOps = (function () {
  const rt = Unimanager.realtime();
  window.opEvents = window.opEvents || [];
  function render(el, op) {
    window.opEvents.push(op);
    if (op.id !== el.dataset.op) return;  // a late event of an operation the element no longer follows
    const bar = el.querySelector(".progress-bar");
    if (bar) { bar.style.width = op.progress + "%"; bar.classList.toggle("bg-danger", op.status === "failed"); bar.classList.toggle("bg-success", op.status === "succeeded"); }
    const st = el.querySelector("[data-role=op-status]");
    if (st) { st.className = Unimanager.operationBadgeClass(op.status); st.textContent = op.status; }
    const msg = el.querySelector("[data-role=op-message]");
    if (msg) msg.textContent = op.status === "failed" ? (op.error || op.message) : op.message;
    el.dataset.status = op.status;
    el.dispatchEvent(new CustomEvent("op", {detail: op}));
  }
  function follow(el) {
    const id = el.dataset.op;
    if (!id) return;
    rt.subscribe("operation:" + id, (op) => render(el, op), {after: 0,
      onReset: async () => render(el, await Unimanager.api("GET", "/api/v1/core/operations/" + id + "/"))});
  }
  document.querySelectorAll("[data-op]").forEach(follow);
  return {follow: follow, rt: rt};
})();
