/* One alert (alerts/alert_detail.html): acknowledge, assign to me, resolve and comment, then reload. */
(function () {
  "use strict";
  const root = document.getElementById("alert-detail");
  const base = "/api/v1/alerts/alerts/" + root.dataset.alert + "/";
  const err = document.getElementById("detail-error");
  document.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", async () => {
    try {
      const action = b.dataset.action;
      if (action === "assign-me") await Unimanager.api("POST", base + "assign/", {assignee: b.dataset.me});
      else if (action === "comment") await Unimanager.api("POST", base + "comment/", {text: document.getElementById("comment").value});
      else await Unimanager.api("POST", base + action + "/", {});
      location.reload();
    } catch (e) { err.textContent = e.message; err.classList.remove("d-none"); }
  }));
})();
