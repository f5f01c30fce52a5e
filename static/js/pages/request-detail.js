/* A provisioning request (provisioning/request_detail.html): live status, instance progress, decision. */
(function () {
  const rt = UmOps.rt, live = document.getElementById("live");
  const requestId = document.getElementById("request-status").dataset.request;
  rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  const statusBadge = {pending: ["bg-yellow-lt", "waiting for approval"], approved: ["bg-blue-lt"], provisioning: ["bg-blue-lt"],
    completed: ["bg-success-lt"], denied: ["bg-danger-lt"], failed: ["bg-danger-lt"]};
  function showStatus(status) {
    const [cls, label] = statusBadge[status] || ["bg-secondary-lt"];
    const badge = document.createElement("span");
    badge.className = "badge " + cls; badge.textContent = label || status;
    document.getElementById("request-status").replaceChildren(badge);
  }
  // A decision or an approval adds to the timeline and creates the instance rows: reload. The progress of
  // the instances and the request's final status arrive live.
  rt.subscribe("request:" + requestId, (ev) => {
    if (ev.event !== "request_changed") return;
    if (ev.kind !== undefined) setTimeout(() => location.reload(), 150); else showStatus(ev.status);
  });
  // The cloud id is known once the cloud has accepted the create.
  document.querySelectorAll("[data-testid=instance-row]").forEach((row) => row.addEventListener("op", (e) => {
    const cell = row.querySelector("[data-role=cloud-id]"), m = /(?:accepted the request: |^Created )(\S+)$/.exec(e.detail.message || "");
    if (m && cell.textContent.trim() === "—") cell.textContent = m[1];
  }));
  document.querySelectorAll("[data-verdict]").forEach((b) => b.addEventListener("click", async () => {
    const err = document.getElementById("decision-error"); err.classList.add("d-none");
    try {
      await Unimanager.api("POST", "/api/v1/provisioning/requests/" + requestId + "/" + b.dataset.verdict + "/", {comment: document.getElementById("decision-comment").value});
      location.reload();
    } catch (e) { err.textContent = e.message; err.classList.remove("d-none"); }
  }));
})();
