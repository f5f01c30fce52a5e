/* Scripts page (templates/provisioning/scripts.html): the library editor (create, change, delete; the
 * parameters follow the script's {{name}} placeholders), and the run form (a saved script or one typed
 * in, its parameter values, instances picked by search) that starts a run and opens its page.
 * Built with createElement/textContent only; every change is an API call. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("scripts-page").textContent);
  const API = "/api/v1/provisioning/";
  const PLACEHOLDER = /\{\{\s*([^{}\s]{1,64})\s*\}\}/g;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "dataset") Object.assign(node.dataset, v); else if (k === "className") node.className = v; else node.setAttribute(k, v);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function placeholders(text) {
    const seen = [];
    for (const m of String(text || "").matchAll(PLACEHOLDER)) if (!seen.includes(m[1])) seen.push(m[1]);
    return seen;
  }
  function showError(box, e) {
    const detail = e.body && e.body.detail && typeof e.body.detail === "object"
      ? " " + Object.entries(e.body.detail).map(([k, v]) => k + ": " + [].concat(v).join(", ")).join("; ") : "";
    box.textContent = (e.message || "Failed") + detail;
    box.classList.remove("d-none");
  }

  // -- the library editor ------------------------------------------------------------------------------
  const editor = document.getElementById("script-editor");
  const form = document.getElementById("script-form");
  const formError = form.querySelector("[data-role=error]");
  const paramsBox = form.querySelector("[data-role=params]");
  const place = document.getElementById("sf-place");
  let editing = null; // the script being changed, or null for a new one

  data.places.forEach((p) => place.add(new Option(p.label, p.kind + ":" + p.id)));
  if (!data.places.length) place.add(new Option("nowhere you may save scripts", ""));

  function paramRows(declared) {
    const known = {};
    (declared || []).forEach((p) => { known[p.name] = p; });
    paramsBox.querySelectorAll("[data-param]").forEach((row) => {
      known[row.dataset.param] = {name: row.dataset.param, description: row.querySelector("[name=description]").value,
        default: row.querySelector("[name=default]").value, required: row.querySelector("[name=required]").checked};
    });
    const names = placeholders(document.getElementById("sf-content").value);
    paramsBox.replaceChildren();
    if (!names.length) paramsBox.append(el("div", {className: "text-secondary small"}, "No parameter: the script has no {{name}} placeholder."));
    names.forEach((name) => {
      const p = known[name] || {name: name, description: "", default: "", required: false};
      const row = el("div", {className: "row g-2 align-items-center mb-1", dataset: {param: name, testid: "param-" + name}});
      const c1 = el("div", {className: "col-3"}); c1.append(el("code", {}, name));
      const c2 = el("div", {className: "col"}); c2.append(el("input", {className: "form-control form-control-sm", name: "description", placeholder: "What it is", "aria-label": name + " description"}));
      const c3 = el("div", {className: "col-3"}); c3.append(el("input", {className: "form-control form-control-sm", name: "default", placeholder: "Default", "aria-label": name + " default"}));
      const c4 = el("label", {className: "col-auto form-check mb-0"});
      const box = el("input", {type: "checkbox", className: "form-check-input", name: "required"});
      c4.append(box, el("span", {className: "form-check-label small"}, "required"));
      c2.firstChild.value = p.description || ""; c3.firstChild.value = p.default || ""; box.checked = !!p.required;
      row.append(c1, c2, c3, c4);
      paramsBox.append(row);
    });
  }
  function collectParams() {
    return Array.from(paramsBox.querySelectorAll("[data-param]")).map((row) => ({
      name: row.dataset.param, description: row.querySelector("[name=description]").value,
      default: row.querySelector("[name=default]").value, required: row.querySelector("[name=required]").checked}));
  }
  function openEditor(script) {
    editing = script;
    formError.classList.add("d-none");
    editor.classList.remove("d-none");
    editor.querySelector("[data-role=editor-title]").textContent = script ? "Edit " + script.name : "New script";
    form.querySelector("[data-role=place-row]").classList.toggle("d-none", !!script);
    form.querySelector("[data-role=delete]").classList.toggle("d-none", !script);
    document.getElementById("sf-name").value = script ? script.name : "";
    document.getElementById("sf-description").value = script ? script.description : "";
    document.getElementById("sf-language").value = script ? script.language : "shell";
    document.getElementById("sf-timeout").value = script ? script.timeout_seconds : 60;
    document.getElementById("sf-content").value = script ? script.content : "";
    paramsBox.replaceChildren();
    paramRows(script ? script.parameters : []);
    const history = form.querySelector("[data-role=history]");
    history.textContent = script ? "version " + script.version + (script.updated_by ? " · last changed by " + script.updated_by : "") : "";
    editor.scrollIntoView({behavior: "smooth", block: "start"});
  }
  document.getElementById("sf-content").addEventListener("input", () => paramRows());
  document.getElementById("script-new").addEventListener("click", () => openEditor(null));
  form.querySelector("[data-role=cancel]").addEventListener("click", () => editor.classList.add("d-none"));
  form.querySelector("[data-role=delete]").addEventListener("click", async () => {
    if (!editing || !confirm("Delete the script " + editing.name + "? Its runs keep the text they ran.")) return;
    try { await Unimanager.api("DELETE", API + "scripts/" + editing.id + "/"); location.reload(); }
    catch (e) { showError(formError, e); }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formError.classList.add("d-none");
    const timeout = document.getElementById("sf-timeout").value;
    const body = {name: document.getElementById("sf-name").value, description: document.getElementById("sf-description").value,
      language: document.getElementById("sf-language").value, content: document.getElementById("sf-content").value,
      timeout_seconds: timeout === "" ? null : Number(timeout), parameters: collectParams()};
    try {
      if (editing) await Unimanager.api("PATCH", API + "scripts/" + editing.id + "/", body);
      else {
        const [kind, id] = (place.value || ":").split(":");
        if (kind) body[kind] = id;
        await Unimanager.api("POST", API + "scripts/", body);
      }
      location.reload();
    } catch (e) { showError(formError, e); }
  });

  // -- the run form ------------------------------------------------------------------------------------
  const run = document.getElementById("run-form");
  const runError = run.querySelector("[data-role=error]");
  const scriptSelect = document.getElementById("rf-script");
  const adhoc = run.querySelector("[data-role=adhoc]");
  const preview = run.querySelector("[data-role=preview]");
  const runParams = run.querySelector("[data-role=run-params]");
  const pickedBox = run.querySelector("[data-role=picked]");
  const results = run.querySelector("[data-role=results]");
  const search = document.getElementById("rf-search");
  const picked = new Map();
  let chosen = null; // the saved script chosen, with its parameters

  function renderRunParams(declared) {
    const values = {};
    runParams.querySelectorAll("input[data-param]").forEach((i) => { values[i.dataset.param] = i.value; });
    runParams.replaceChildren();
    declared.forEach((p) => {
      const row = el("div", {className: "row g-2 align-items-center mb-1"});
      const label = el("label", {className: "col-3 col-form-label col-form-label-sm", for: "rp-" + p.name});
      label.append(el("code", {}, p.name));
      if (p.required) label.append(el("span", {className: "text-danger ms-1"}, "*"));
      const col = el("div", {className: "col"});
      const input = el("input", {className: "form-control form-control-sm", id: "rp-" + p.name, dataset: {param: p.name, testid: "run-param-" + p.name},
        placeholder: p.description || (p.default ? "default: " + p.default : "value")});
      input.value = values[p.name] !== undefined ? values[p.name] : (p.default || "");
      col.append(input);
      row.append(label, col);
      runParams.append(row);
    });
  }
  async function chooseScript(id) {
    runError.classList.add("d-none");
    if (!id) {
      chosen = null; adhoc.classList.remove("d-none"); preview.classList.add("d-none");
      renderRunParams(placeholders(document.getElementById("rf-content").value).map((n) => ({name: n, required: true})));
      return;
    }
    try { chosen = await Unimanager.api("GET", API + "scripts/" + id + "/"); }
    catch (e) { showError(runError, e); return; }
    adhoc.classList.add("d-none");
    preview.textContent = chosen.content;
    preview.classList.remove("d-none");
    renderRunParams(chosen.parameters);
    document.getElementById("rf-timeout").placeholder = String(chosen.timeout_seconds);
  }
  scriptSelect.addEventListener("change", () => chooseScript(scriptSelect.value));
  document.getElementById("rf-content").addEventListener("input", () => {
    if (!chosen) renderRunParams(placeholders(document.getElementById("rf-content").value).map((n) => ({name: n, required: true})));
  });

  function renderPicked() {
    pickedBox.replaceChildren();
    if (!picked.size) pickedBox.append(el("span", {className: "text-secondary small"}, "No instance chosen yet."));
    picked.forEach((i) => {
      const chip = el("span", {className: "badge bg-blue-lt d-inline-flex align-items-center gap-1", dataset: {testid: "picked-instance", instance: i.id}});
      chip.append(el("span", {}, i.name + " · " + i.external_id));
      const x = el("button", {type: "button", className: "btn-close btn-close-sm ms-1", "aria-label": "Remove " + i.name});
      x.addEventListener("click", () => {
        picked.delete(i.id);
        const option = results.querySelector("[data-instance='" + i.id + "']");
        if (option) option.classList.remove("active");
        renderPicked();
      });
      chip.append(x);
      pickedBox.append(chip);
    });
  }
  let searchSeq = 0;
  async function find() {
    const seq = ++searchSeq;
    const q = encodeURIComponent(search.value.trim());
    let page;
    try { page = await Unimanager.api("GET", API + "script-instances/?page_size=20&q=" + q); }
    catch (e) { results.replaceChildren(el("div", {className: "list-group-item text-danger small"}, e.message)); return; }
    if (seq !== searchSeq) return;
    results.replaceChildren();
    page.results.forEach((i) => {
      const running = i.status === "running";
      const item = el("button", {type: "button", className: "list-group-item list-group-item-action d-flex gap-2 align-items-center py-1",
        dataset: {testid: "instance-option", instance: i.id}});
      if (!running) item.disabled = true;
      const text = el("div", {className: "flex-fill"});
      text.append(el("div", {}, i.name || i.external_id));
      text.append(el("div", {className: "small text-secondary"}, i.external_id + " · " + i.region + " · " + i.platform_name + (i.project_name ? " · " + i.project_name : "")));
      item.append(text, el("span", {className: "badge " + (running ? "bg-success-lt" : "bg-secondary-lt")}, i.status));
      item.classList.toggle("active", picked.has(i.id));
      item.addEventListener("click", () => {
        if (picked.has(i.id)) picked.delete(i.id); else if (picked.size < 50) picked.set(i.id, i);
        item.classList.toggle("active", picked.has(i.id));
        renderPicked();
      });
      results.append(item);
    });
    if (!page.results.length) results.append(el("div", {className: "list-group-item text-secondary small"}, "No instance matches."));
  }
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 250); });
  search.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); find(); } });

  run.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    runError.classList.add("d-none");
    const parameters = {};
    runParams.querySelectorAll("input[data-param]").forEach((i) => { parameters[i.dataset.param] = i.value; });
    const body = {instances: Array.from(picked.keys()), parameters: parameters, comment: document.getElementById("rf-comment").value};
    const timeout = document.getElementById("rf-timeout").value;
    if (timeout !== "") body.timeout_seconds = Number(timeout);
    if (chosen) body.script = chosen.id;
    else { body.content = document.getElementById("rf-content").value; body.language = document.getElementById("rf-language").value; }
    const button = run.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const started = await Unimanager.api("POST", API + "script-runs/", body);
      location.assign(data.run_url + started.id + "/");
    } catch (e) { showError(runError, e); button.disabled = false; }
  });

  document.querySelectorAll("[data-testid=script-item]").forEach((item) => {
    const id = item.dataset.script;
    item.querySelector("[data-role=use]").addEventListener("click", () => {
      scriptSelect.value = id; chooseScript(id);
      document.getElementById("run-card").scrollIntoView({behavior: "smooth", block: "start"});
    });
    item.querySelector("[data-role=edit]").addEventListener("click", async () => {
      try { openEditor(await Unimanager.api("GET", API + "scripts/" + id + "/")); }
      catch (e) { alert(e.message); }
    });
  });

  data.picked.forEach((i) => picked.set(i.id, i));
  renderPicked();
  chooseScript(scriptSelect.value);
  find();
})();
