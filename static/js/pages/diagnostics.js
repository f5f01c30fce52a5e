/* Diagnostics (console/diagnostics.html): start a diagnostic and follow its steps live. */
(function () {
  const rt = Unimanager.realtime();
  const live = document.getElementById("diag-live");
  rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  const list = document.getElementById("diag-steps-list");
  let current = null;
  window.diagnosticEvents = [];

  function render(op) {
    window.diagnosticEvents.push(op);
    document.getElementById("diag-op").textContent = op.id;
    const bar = document.getElementById("diag-bar");
    bar.style.width = op.progress + "%";
    bar.setAttribute("aria-valuenow", op.progress);
    bar.classList.toggle("bg-danger", op.status === "failed");
    bar.classList.toggle("bg-success", op.status === "succeeded");
    document.getElementById("diag-status").replaceChildren(Unimanager.operationBadge(op.status, "diag-status"));
    if (op.step && !list.querySelector('[data-step="' + op.step + '"]')) {
      const li = document.createElement("li");
      li.dataset.step = op.step;
      const icon = document.createElement("i"), message = document.createElement("span"), progress = document.createElement("span");
      icon.className = "ti ti-circle-check";
      message.textContent = op.message;
      progress.className = "ms-auto text-secondary small";
      progress.textContent = op.progress + "%";
      li.append(icon, message, progress);
      list.appendChild(li);
    }
  }

  document.getElementById("diag-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("diag-error");
    err.classList.add("d-none");
    list.replaceChildren();
    window.diagnosticEvents = [];
    try {
      const op = await Unimanager.api("POST", "/api/v1/core/operations/diagnostics/", {
        steps: parseInt(document.getElementById("diag-steps").value, 10),
        interval: parseFloat(document.getElementById("diag-interval").value),
      });
      if (current) rt.unsubscribe(current);
      current = "operation:" + op.id;
      document.getElementById("diag-op").textContent = op.id;
      // Events from the moment the operation was created are replayed (after: 0).
      rt.subscribe(current, render, {after: 0, onReset: async () => render(await Unimanager.api("GET", "/api/v1/core/operations/" + op.id + "/"))});
    } catch (e) {
      err.textContent = e.message;
      err.classList.remove("d-none");
    }
  });
})();
