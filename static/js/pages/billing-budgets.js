/* Budgets (billing/budgets.html): progress bars from data attributes, and threshold crossings as
   they are announced on the organizations' billing topics. */
(function () {
  "use strict";
  document.querySelectorAll("[data-share]").forEach((bar) => { bar.style.width = bar.dataset.share + "%"; });
  const live = document.getElementById("billing-live");
  const topics = (live && live.dataset.topics) ? live.dataset.topics.split(" ") : [];
  if (!topics.length || !window.Unimanager || !Unimanager.realtime) return;
  const esc = Unimanager.escapeHtml;
  const body = document.getElementById("crossing-rows");
  const rt = Unimanager.realtime();
  topics.forEach((topic) => rt.subscribe(topic, (data) => {
    if (data.event !== "budget_crossed") return;
    const none = body.querySelector(".billing-none");
    if (none) none.remove();
    const row = document.createElement("tr");
    row.className = "billing-live-event";
    row.setAttribute("data-testid", "live-crossing");
    const badge = data.basis === "forecast" ? "bg-azure-lt" : "bg-orange-lt";
    row.innerHTML = "<td>just now</td><td>" + esc(data.name) + "</td><td>" + esc(data.period) + "</td>" +
      "<td><span class=\"badge " + badge + "\">" + esc(data.basis) + "</span></td>" +
      "<td class=\"text-end\">" + esc(data.threshold) + "%</td><td class=\"text-end font-monospace\">" + esc(data.spend) + "</td>";
    body.prepend(row);
  }));
})();
