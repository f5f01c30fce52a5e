/* My resources (provisioning/my_resources.html): start, stop, reboot, resize and release an instance
 * from its row, which follows the operation live. */
(function () {
  const err = document.getElementById("act-error");
  const colour = {running: "bg-success-lt", stopped: "bg-secondary-lt", released: "bg-danger-lt"};
  // What the state allows (the server refuses the rest with a clear error anyway).
  function showStatus(row, status) {
    const badge = row.querySelector("[data-role=status]");
    badge.textContent = status; badge.className = "badge " + (colour[status] || "bg-blue-lt");
    const busy = row.dataset.status === "pending" || row.dataset.status === "running";
    const allowed = {start: status === "stopped", stop: status === "running", reboot: status === "running",
      resize: status === "stopped" || status === "running", release: status !== "released"};
    row.querySelectorAll("[data-action]").forEach((b) => { b.disabled = busy || !allowed[b.dataset.action]; });
    row.querySelector("[data-role=resize-to]").disabled = busy || !allowed.resize;
  }
  document.querySelectorAll("tr[data-resource]").forEach((row) => {
    const id = row.dataset.resource;
    showStatus(row, row.querySelector("[data-role=status]").textContent.trim());
    row.addEventListener("op", () => {
      row.querySelector("[data-role=op-progress]").classList.remove("invisible");
      showStatus(row, row.dataset.released ? "released" : row.querySelector("[data-role=status]").textContent.trim());
    });
    UmOps.rt.subscribe("resource:" + id, async (ev) => {
      if (ev.event !== "resource_changed") return;
      if (ev.deleted) { row.dataset.released = "1"; showStatus(row, "released"); return; }
      const r = await Unimanager.api("GET", "/api/v1/resources/resources/" + id + "/");
      showStatus(row, r.status);
      row.querySelector("[data-role=itype]").textContent = (r.spec || {}).instance_type || "";
    });
    row.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
      err.classList.add("d-none");
      const action = b.dataset.action;
      if (action === "release" && !confirm("Release " + row.dataset.name + "? This deletes it on the cloud.")) return;
      // The row follows the new operation from the click on: never the previous one's outcome.
      const previous = {op: row.dataset.op, status: row.dataset.status};
      row.dataset.op = ""; row.dataset.status = "pending";
      const body = {comment: "from the portal"};
      if (action === "resize") body.params = {instance_type: row.querySelector("[data-role=resize-to]").value};
      try {
        const op = await Unimanager.api("POST", "/api/v1/provisioning/instances/" + id + "/" + action + "/", body);
        row.dataset.op = op.id; row.dataset.status = op.status;
        showStatus(row, row.querySelector("[data-role=status]").textContent.trim());
        UmOps.follow(row);
      } catch (e) {
        row.dataset.op = previous.op; row.dataset.status = previous.status;
        err.textContent = row.dataset.name + ": " + e.message; err.classList.remove("d-none");
      }
    }));
  });
})();
