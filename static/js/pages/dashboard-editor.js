/* Dashboard editor (dashboards/edit.html): widgets on a 24-column gridstack grid (drag, resize, drag
 * new ones in from the palette), each bound to a named query with its parameters, units, colour and
 * thresholds; save (a new version), versions with restore. Saved widgets preview their live data. */
(function () {
  "use strict";
  const board = JSON.parse(document.getElementById("board-data").textContent);
  const catalog = JSON.parse(document.getElementById("catalog-data").textContent);
  const esc = Unimanager.escapeHtml;
  const $ = (id) => document.getElementById(id);
  const api = "/api/v1/dashboards/dashboards/" + encodeURIComponent(board.uid) + "/";
  const kinds = new Map(catalog.widget_kinds.map((k) => [k.name, k]));
  const queries = new Map(catalog.queries.map((q) => [q.name, q]));
  let doc = JSON.parse(JSON.stringify(board.document));
  let version = board.version;
  let selected = null;
  const defs = new Map(); // widget id -> definition (gridPos kept from the grid on save)
  let counter = 0;

  const grid = GridStack.init({column: 24, cellHeight: 40, margin: 4, float: true, acceptWidgets: true,
                               removable: false, disableOneColumnMode: true, columnOpts: {breakpoints: []}}, $("editor-grid"));
  GridStack.setupDragIn("#palette .um-palette-item", {appendTo: "body", helper: "clone"});

  function newId(prefix) {
    let id;
    do { counter += 1; id = (prefix || "w") + counter; } while (defs.has(id));
    return id;
  }

  function firstQueryFor(kind) {
    const k = kinds.get(kind);
    for (const q of catalog.queries) if (k.shapes.includes(q.shape)) return q.name;
    return catalog.queries[0].name;
  }

  // Each widget on the grid is drawn as the dashboard will draw it, from a preview of its data.
  const previewBoard = {mode: "edit", dark: false, staleAfter: 1e9};
  const drawn = new Map(); // widget id -> Unimanager.dashboards.Widget
  const previewTimers = new Map();

  function render(el, def) {
    const content = el.querySelector(".grid-stack-item-content");
    content.textContent = "";
    const widget = new Unimanager.dashboards.Widget(previewBoard, def);
    const badge = document.createElement("span");
    badge.className = "badge bg-blue-lt um-editor-badge";
    badge.textContent = def.type + " · " + def.query.name;
    widget.el.appendChild(badge);
    content.appendChild(widget.el);
    drawn.set(def.id, widget);
    el.dataset.widget = def.id;
    el.classList.toggle("um-selected", selected === def.id);
    schedulePreview(def);
  }

  function schedulePreview(def) {
    clearTimeout(previewTimers.get(def.id));
    previewTimers.set(def.id, setTimeout(() => preview(def), 250));
  }

  async function preview(def) {
    const widget = drawn.get(def.id);
    if (!widget) return;
    try {
      const data = await Unimanager.api("POST", api + "preview/", {widget: Object.assign({}, def, {gridPos: {x: 0, y: 0, w: 1, h: 1}})});
      if (drawn.get(def.id) === widget) widget.show(data);
    } catch (e) {
      widget.show({error: e.message, updated_at: new Date().toISOString()});
    }
  }

  function addItem(def) {
    defs.set(def.id, def);
    const el = document.createElement("div");
    el.className = "grid-stack-item";
    el.setAttribute("gs-id", def.id);
    el.setAttribute("gs-x", def.gridPos.x); el.setAttribute("gs-y", def.gridPos.y);
    el.setAttribute("gs-w", def.gridPos.w); el.setAttribute("gs-h", def.gridPos.h);
    el.innerHTML = '<div class="grid-stack-item-content"></div>';
    $("editor-grid").appendChild(el);
    grid.makeWidget(el);
    render(el, def);
    return el;
  }

  grid.on("dropped", (event, previous, node) => {
    const el = node.el;
    const kind = el.dataset.kind || "stat";
    el.classList.remove("um-palette-item");
    const def = {id: newId(kind), type: kind, title: "", gridPos: {x: node.x, y: node.y, w: node.w, h: node.h},
                 query: {name: firstQueryFor(kind), params: {}}, options: {}};
    defs.set(def.id, def);
    el.setAttribute("gs-id", def.id);
    node.id = def.id;
    render(el, def);
    select(def.id);
  });

  grid.on("resizestop", (event, el) => { const w = drawn.get(el.dataset.widget); if (w) setTimeout(() => w.resize(), 50); });

  $("editor-grid").addEventListener("click", (ev) => {
    const item = ev.target.closest(".grid-stack-item");
    if (item && item.dataset.widget) select(item.dataset.widget);
  });

  function itemOf(id) { return $("editor-grid").querySelector('.grid-stack-item[data-widget="' + CSS.escape(id) + '"]'); }

  function select(id) {
    selected = id;
    document.querySelectorAll("#editor-grid .grid-stack-item").forEach((el) => el.classList.toggle("um-selected", el.dataset.widget === id));
    const def = defs.get(id);
    $("widget-none").classList.toggle("d-none", !!def);
    $("widget-fields").classList.toggle("d-none", !def);
    if (!def) return;
    $("w-title").value = def.title || "";
    $("w-type").innerHTML = catalog.widget_kinds.map((k) => '<option value="' + esc(k.name) + '">' + esc(k.label) + "</option>").join("");
    $("w-type").value = def.type;
    fillQueries(def);
    $("w-unit").value = (def.options && def.options.unit) || "";
    $("w-color").value = (def.options && def.options.color) || "#206bc4";
    $("w-thresholds").value = ((def.options && def.options.thresholds) || []).map((t) => t.value + ":" + t.color).join(", ");
  }

  function fillQueries(def) {
    const k = kinds.get(def.type);
    const fitting = catalog.queries.filter((q) => !k || k.shapes.includes(q.shape));
    $("w-query").innerHTML = fitting.map((q) => '<option value="' + esc(q.name) + '">' + esc(q.label) + " (" + esc(q.name) + ")</option>").join("");
    if (!fitting.some((q) => q.name === def.query.name) && fitting.length) def.query = {name: fitting[0].name, params: {}};
    $("w-query").value = def.query.name;
    fillParams(def);
  }

  function fillParams(def) {
    const q = queries.get(def.query.name);
    const box = $("w-params");
    box.textContent = "";
    for (const p of (q ? q.params : [])) {
      const wrap = document.createElement("div");
      wrap.className = "mb-2";
      const id = "wp-" + p.name;
      const lab = document.createElement("label");
      lab.className = "form-label"; lab.htmlFor = id; lab.textContent = p.label;
      let input;
      if (p.kind === "choice") {
        input = document.createElement("select");
        input.className = "form-select";
        for (const c of p.choices) { const o = document.createElement("option"); o.value = JSON.stringify(c); o.textContent = String(c); input.appendChild(o); }
        input.value = JSON.stringify(def.query.params[p.name] !== undefined ? def.query.params[p.name] : p.default);
      } else {
        input = document.createElement("input");
        input.className = "form-control";
        if (p.kind === "int") { input.type = "number"; input.min = p.low; input.max = p.high; }
        input.value = def.query.params[p.name] !== undefined ? def.query.params[p.name] : (p.default === null ? "" : p.default);
      }
      input.id = id;
      input.addEventListener("change", () => {
        let v = p.kind === "choice" ? JSON.parse(input.value) : p.kind === "int" ? parseInt(input.value, 10) : input.value;
        if (v === p.default || (p.kind === "int" && isNaN(v))) delete def.query.params[p.name]; else def.query.params[p.name] = v;
        changed(def);
      });
      wrap.append(lab, input);
      box.appendChild(wrap);
    }
  }

  function changed(def) { const el = itemOf(def.id); if (el) render(el, def); }

  $("w-title").addEventListener("input", () => {
    const d = defs.get(selected);
    if (!d) return;
    d.title = $("w-title").value;
    const w = drawn.get(d.id);
    if (w) w.el.querySelector(".um-widget-title").textContent = d.title || d.query.name;
  });
  $("w-type").addEventListener("change", () => { const d = defs.get(selected); if (d) { d.type = $("w-type").value; fillQueries(d); changed(d); } });
  $("w-query").addEventListener("change", () => { const d = defs.get(selected); if (d) { d.query = {name: $("w-query").value, params: {}}; fillParams(d); changed(d); } });
  $("w-unit").addEventListener("change", () => { const d = defs.get(selected); if (d) { d.options = Object.assign({}, d.options, {unit: $("w-unit").value}); changed(d); } });
  $("w-color").addEventListener("change", () => { const d = defs.get(selected); if (d) { d.options = Object.assign({}, d.options, {color: $("w-color").value}); changed(d); } });
  $("w-thresholds").addEventListener("change", () => {
    const d = defs.get(selected);
    if (!d) return;
    const list = $("w-thresholds").value.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
      const [v, c] = s.split(":");
      return {value: Number(v), color: (c || "").trim()};
    });
    d.options = Object.assign({}, d.options, {thresholds: list});
    changed(d);
  });
  $("w-remove").addEventListener("click", () => {
    const el = itemOf(selected);
    if (el) grid.removeWidget(el);
    defs.delete(selected);
    drawn.delete(selected);
    select(null);
  });

  function currentDocument() {
    const widgets = [];
    for (const node of grid.engine.nodes) {
      const id = node.el && node.el.dataset.widget;
      const def = id && defs.get(id);
      if (!def) continue;
      widgets.push(Object.assign({}, def, {gridPos: {x: node.x, y: node.y, w: node.w, h: node.h}}));
    }
    widgets.sort((a, b) => (a.gridPos.y - b.gridPos.y) || (a.gridPos.x - b.gridPos.x));
    return Object.assign({}, doc, {title: $("doc-title").value.trim(), refresh: parseInt($("doc-refresh").value, 10),
                                   stale_after: parseInt($("doc-stale").value, 10), widgets: widgets});
  }

  function message(kind, text) {
    $("editor-error").classList.toggle("d-none", kind !== "error");
    $("editor-ok").classList.toggle("d-none", kind !== "ok");
    $(kind === "error" ? "editor-error" : "editor-ok").textContent = text;
  }

  async function save() {
    try {
      const row = await Unimanager.api("PUT", api, {document: currentDocument(), base_version: version});
      load(row);
      message("ok", "Saved as version " + row.version + ".");
    } catch (e) {
      const detail = e.body && e.body.detail && typeof e.body.detail === "object"
        ? Object.entries(e.body.detail).map(([k, v]) => k + ": " + [].concat(v).join(" ")).join("; ") : "";
      message("error", "Not saved: " + e.message + (detail && !e.message.includes(detail) ? " (" + detail + ")" : ""));
    }
  }
  $("editor-save").addEventListener("click", save);

  function load(row) {
    doc = JSON.parse(JSON.stringify(row.document));
    version = row.version;
    $("editor-version").textContent = "v" + version;
    grid.removeAll();
    defs.clear();
    drawn.clear();
    $("doc-title").value = doc.title;
    $("doc-refresh").value = doc.refresh;
    $("doc-stale").value = doc.stale_after;
    grid.batchUpdate();
    for (const w of doc.widgets) addItem(JSON.parse(JSON.stringify(w)));
    grid.batchUpdate(false);
    select(null);
    versions();
  }

  async function versions() {
    try {
      const rows = await Unimanager.api("GET", api + "versions/");
      $("versions").innerHTML = rows.map((v) => '<div class="list-group-item d-flex align-items-center gap-2" data-version="' + v.version + '">' +
        '<div class="flex-fill"><div><strong>v' + v.version + "</strong> " + esc(v.message || "") + '</div><div class="text-secondary small">' +
        esc(new Date(v.created_at).toLocaleString()) + (v.created_by ? " · " + esc(v.created_by) : "") + "</div></div>" +
        (v.version === version ? '<span class="badge bg-green-lt">current</span>'
                               : '<button class="btn btn-sm btn-ghost-primary" type="button" data-restore="' + v.version + '">Restore</button>') +
        "</div>").join("");
    } catch (e) { $("versions").textContent = "Versions could not be read."; }
  }

  $("versions").addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-restore]");
    if (!btn) return;
    try {
      const row = await Unimanager.api("POST", api + "restore/", {version: parseInt(btn.dataset.restore, 10)});
      load(row);
      message("ok", "Restored version " + btn.dataset.restore + " as version " + row.version + ".");
    } catch (e) { message("error", "Not restored: " + e.message); }
  });

  load({document: board.document, version: board.version});
})();
