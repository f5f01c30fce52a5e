/* Silences (alerts/silences.html): create from matchers written as name=value, expire from a row. */
(function () {
  "use strict";
  const form = document.getElementById("silence-form"), err = document.getElementById("silence-error");
  const MATCHER = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"([^"]*)"|(\S+))/g;
  function fail(e) {
    const detail = e.body && e.body.detail ? Object.keys(e.body.detail).map((k) => k + ": " + [].concat(e.body.detail[k]).join(" ")).join("; ") : "";
    err.textContent = e.message + (detail ? " (" + detail + ")" : "");
    err.classList.remove("d-none");
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form), matchers = [];
    for (const m of String(f.get("matchers") || "").matchAll(MATCHER)) {
      matchers.push({name: m[1], op: m[2], value: m[3] !== undefined ? m[3] : m[4]});
    }
    const hours = Number(f.get("hours") || 1);
    try {
      await Unimanager.api("POST", "/api/v1/alerts/silences/", {organization: f.get("organization"), matchers: matchers,
        comment: f.get("comment"), ends_at: new Date(Date.now() + hours * 3600 * 1000).toISOString()});
      location.reload();
    } catch (e) { fail(e); }
  });
  document.querySelectorAll("[data-expire]").forEach((b) => b.addEventListener("click", async () => {
    try {
      await Unimanager.api("POST", "/api/v1/alerts/silences/" + b.closest("tr").dataset.silence + "/expire/", {});
      location.reload();
    } catch (e) { fail(e); }
  }));
})();
