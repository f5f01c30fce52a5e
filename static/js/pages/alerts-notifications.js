/* Notifications (alerts/notifications.html): contact points, routes, the template editor with its
 * live preview (rendered by the server's sandbox), tests and deletes. */
(function () {
  "use strict";
  const err = document.getElementById("notify-error");
  const MATCHER = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"([^"]*)"|(\S+))/g;
  function fail(e) {
    const detail = e.body && e.body.detail ? Object.keys(e.body.detail).map((k) => k + ": " + [].concat(e.body.detail[k]).join(" ")).join("; ") : "";
    err.textContent = e.message + (detail ? " (" + detail + ")" : "");
    err.classList.remove("d-none");
    window.scrollTo(0, 0);
  }
  function matchers(text) {
    const out = [];
    for (const m of String(text || "").matchAll(MATCHER)) out.push({name: m[1], op: m[2], value: m[3] !== undefined ? m[3] : m[4]});
    return out;
  }
  async function post(url, body) {
    try { await Unimanager.api("POST", url, body); location.reload(); } catch (e) { fail(e); }
  }

  const contact = document.getElementById("contact-form"), kind = document.getElementById("c-kind");
  function showKind() {
    const k = kind.value;
    contact.querySelector('[data-for="url"]').classList.toggle("d-none", k === "email" || k === "inbox");
    contact.querySelector('[data-for="email"]').classList.toggle("d-none", k !== "email");
    contact.querySelector('[data-for="secret"]').classList.toggle("d-none", k === "inbox" || k === "wecom" || k === "slack" || k === "teams");
  }
  kind.addEventListener("change", showKind);
  showKind();
  contact.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(contact), k = f.get("kind");
    let config = {}, secrets = {};
    if (k === "email") {
      config = {to: String(f.get("to")).split(",").map((s) => s.trim()).filter(Boolean), host: f.get("host") || "127.0.0.1",
                port: parseInt(f.get("port") || "25", 10)};
      if (f.get("secret")) secrets.password = f.get("secret");
    } else if (k !== "inbox") {
      config = {url: f.get("url")};
      if (f.get("secret")) secrets.secret = f.get("secret");
    }
    post("/api/v1/alerts/contact-points/", {organization: f.get("organization"), name: f.get("name"), kind: k,
                                            config: config, secrets: secrets});
  });

  const route = document.getElementById("route-form");
  route.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(route);
    post("/api/v1/alerts/routes/", {organization: f.get("organization"), name: f.get("name"),
      matchers: matchers(f.get("matchers")), contact_points: f.getAll("contact_points"),
      group_by: String(f.get("group_by")).split(",").map((s) => s.trim()).filter(Boolean),
      repeat_interval_seconds: parseInt(f.get("repeat_interval_seconds"), 10)});
  });

  const tmpl = document.getElementById("template-form");
  const subject = document.getElementById("t-subject"), body = document.getElementById("t-body");
  let timer = null;
  async function preview() {
    const out = document.getElementById("preview-error");
    try {
      const r = await Unimanager.api("POST", "/api/v1/alerts/templates/preview/", {subject: subject.value, body: body.value,
                                                                                  event_type: document.getElementById("t-event").value});
      document.getElementById("preview-subject").textContent = r.subject;
      document.getElementById("preview-body").textContent = r.body;
      out.textContent = "";
    } catch (e) {
      const d = e.body && e.body.detail ? Object.values(e.body.detail).flat().join(" ") : "";
      out.textContent = e.message + (d ? " " + d : "");
    }
  }
  [subject, body].forEach((el) => el.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(preview, 300); }));
  document.getElementById("t-event").addEventListener("change", preview);
  preview();
  tmpl.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(tmpl);
    post("/api/v1/alerts/templates/", {organization: f.get("organization"), name: f.get("name"),
      event_type: f.get("event_type"), subject: f.get("subject"), body: f.get("body")});
  });

  document.querySelectorAll("[data-test]").forEach((b) => b.addEventListener("click", () =>
    post("/api/v1/alerts/contact-points/" + b.closest("tr").dataset.contact + "/test/", {})));
  document.querySelectorAll("[data-delete]").forEach((b) => b.addEventListener("click", async () => {
    const row = b.closest("tr"), id = row.dataset.contact || row.dataset.route;
    if (!window.confirm("Delete?")) return;
    try { await Unimanager.api("DELETE", "/api/v1/alerts/" + b.dataset.delete + "/" + id + "/"); location.reload(); } catch (e) { fail(e); }
  }));
})();
