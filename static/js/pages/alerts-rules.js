/* Alert rules (alerts/rules.html): create from the form (the API's refusal names the field), enable,
 * disable and delete from each row. */
(function () {
  "use strict";
  const form = document.getElementById("rule-form"), err = document.getElementById("rule-error");
  const kind = document.getElementById("r-kind");
  function showKind() {
    form.querySelectorAll("[data-kind]").forEach((el) => el.classList.toggle("d-none", el.dataset.kind !== kind.value));
  }
  kind.addEventListener("change", showKind);
  showKind();
  function fail(e) {
    const detail = e.body && e.body.detail ? Object.keys(e.body.detail).map((k) => k + ": " + [].concat(e.body.detail[k]).join(" ")).join("; ") : "";
    err.textContent = e.message + (detail ? " (" + detail + ")" : "");
    err.classList.remove("d-none");
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form), body = {organization: f.get("organization"), name: f.get("name"),
      kind: f.get("kind"), severity: f.get("severity"), scope: {}};
    String(f.get("scope") || "").split(/\s+/).filter(Boolean).forEach((part) => {
      const i = part.indexOf("=");
      if (i > 0) body.scope[part.slice(0, i)] = part.slice(i + 1);
    });
    if (body.kind === "threshold") {
      Object.assign(body, {metric: f.get("metric"), aggregation: f.get("aggregation"), operator: f.get("operator"),
        threshold: Number(f.get("threshold")), window_seconds: parseInt(f.get("window_seconds"), 10),
        for_seconds: parseInt(f.get("for_seconds"), 10)});
    } else {
      body.event_type = f.get("event_type");
    }
    try { await Unimanager.api("POST", "/api/v1/alerts/rules/", body); location.reload(); } catch (e) { fail(e); }
  });
  document.querySelectorAll("[data-rule]").forEach((row) => {
    const url = "/api/v1/alerts/rules/" + row.dataset.rule + "/";
    row.querySelector("[data-toggle]").addEventListener("click", async (ev) => {
      try { await Unimanager.api("PATCH", url, {enabled: ev.target.dataset.toggle === "true"}); location.reload(); } catch (e) { fail(e); }
    });
    row.querySelector("[data-delete]").addEventListener("click", async () => {
      if (!window.confirm("Delete this rule and its alerts?")) return;
      try { await Unimanager.api("DELETE", url); location.reload(); } catch (e) { fail(e); }
    });
  });
})();
