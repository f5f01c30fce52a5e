/* Dashboards: draws a dashboard document's widgets (stat, gauge, line, bar, pie, table, map, topology) with ECharts
 * on a 24-column grid, reads their data from the server, re-reads the widgets the server says
 * changed (over the page's one websocket) or, on a display token's wall screen, draws the values the
 * server pushes, and shows each widget's age, turning it stale when no
 * news came for the dashboard's `stale_after` seconds.
 *
 *   const board = Unimanager.dashboards.board(container, boardJson, {mode: "view" | "screen" | "edit"});
 */
(function () {
  "use strict";
  const U = window.Unimanager = window.Unimanager || {};
  const esc = (v) => U.escapeHtml(v);
  const PALETTE = ["#206bc4", "#2fb344", "#f76707", "#d63939", "#ae3ec9", "#17a2b8", "#f59f00", "#74b816",
                   "#4263eb", "#e8590c"];
  const COALESCE_MS = 250;

  function number(v, decimals) {
    if (typeof v !== "number" || !isFinite(v)) return "–";
    const d = decimals === undefined ? (Number.isInteger(v) ? 0 : 1) : decimals;
    return v.toLocaleString(undefined, {minimumFractionDigits: d, maximumFractionDigits: d});
  }

  function thresholdColor(value, options, fallback) {
    let color = (options && options.color) || fallback;
    for (const t of (options && options.thresholds) || []) if (value >= t.value) color = t.color;
    return color;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    return Math.floor(s / 3600) + " h ago";
  }

  // The value a stat or gauge shows: a percentage of `total` when the widget's unit is "%". What is
  // not known yet (`unknown`, e.g. platforms never checked) is named apart, not counted as a shortfall.
  function scalar(result, options) {
    const unit = (options && options.unit) || "";
    const apart = typeof result.unknown === "number" && result.unknown > 0
      ? " (" + number(result.unknown, 0) + " not known yet)" : "";
    if (unit === "%" && typeof result.total === "number") {
      // Nothing known yet is no value ("–"), not 0 %.
      const value = result.total ? (100 * result.value / result.total) : (apart ? null : 0);
      return {value: value, suffix: value === null ? "" : "%",
              note: number(result.value, 0) + " of " + number(result.total, 0) + apart};
    }
    return {value: result.value, suffix: unit ? " " + unit : "",
            note: (typeof result.total === "number" ? "of " + number(result.total, 0) : "") + apart};
  }

  function Widget(board, def) {
    this.board = board;
    this.def = def;
    this.updatedAt = null;
    this.chart = null;
    const el = document.createElement("div");
    el.className = "um-widget";
    el.dataset.widget = def.id;
    el.dataset.type = def.type;
    el.innerHTML = '<div class="um-widget-head"><span class="um-widget-title"></span>' +
      '<span class="um-widget-age" data-testid="widget-age">loading</span></div><div class="um-widget-body"></div>';
    el.querySelector(".um-widget-title").textContent = def.title || def.query.name;
    this.el = el;
    this.body = el.querySelector(".um-widget-body");
    this.age = el.querySelector(".um-widget-age");
  }

  Widget.prototype.show = function (data) {
    if (data.error) {
      this.body.innerHTML = '<div class="um-widget-error">' + esc(data.error) + "</div>";
      this.dispose();
    } else {
      this.draw(data.result, data.shape);
    }
    this.updatedAt = Date.parse(data.updated_at) || Date.now();
    this.el.classList.remove("um-stale");
    this.tick(Date.now());
  };

  Widget.prototype.tick = function (now) {
    if (!this.updatedAt) return;
    const stale = now - this.updatedAt > this.board.staleAfter * 1000;
    this.el.classList.toggle("um-stale", stale);
    this.age.textContent = (stale ? "stale · " : "") + "updated " + ago(now - this.updatedAt);
    this.age.title = new Date(this.updatedAt).toLocaleString();
  };

  Widget.prototype.dispose = function () {
    if (this.chart) { this.chart.dispose(); this.chart = null; }
  };

  Widget.prototype.echart = function () {
    if (!this.chart || this.chart.isDisposed()) {
      this.body.textContent = "";
      const holder = document.createElement("div");
      holder.className = "um-widget-chart";
      this.body.appendChild(holder);
      this.chart = echarts.init(holder, this.board.dark ? "dark" : null, {renderer: "canvas"});
    }
    return this.chart;
  };

  Widget.prototype.draw = function (result, shape) {
    const def = this.def, o = def.options || {};
    const text = this.board.dark ? "#e6ebff" : "#1d273b";
    // ECharts sizes text in pixels: a wall screen scales it with the screen (1080p: 1, 4K: 2).
    const font = Math.round(12 * (this.board.mode === "screen" ? Math.max(1, window.innerWidth / 1920) : 1));
    const base = {backgroundColor: "transparent", textStyle: {color: text, fontSize: font}, color: PALETTE,
                  animation: this.board.mode !== "screen"};
    if (def.type === "stat") {
      this.dispose();
      const s = scalar(result, o);
      const color = thresholdColor(s.value, o, this.board.dark ? "#e6ebff" : "#1d273b");
      this.body.innerHTML = '<div class="um-stat"><div class="um-stat-value" data-testid="stat-value"></div>' +
        '<div class="um-stat-note"></div></div>';
      const value = this.body.querySelector(".um-stat-value");
      value.textContent = number(s.value, o.decimals) + s.suffix;
      value.style.color = color;
      this.body.querySelector(".um-stat-note").textContent = s.note;
      this.fitStat();
      return;
    }
    if (def.type === "table") {
      this.dispose();
      const columns = shape === "categories" ? ["Name", "Value"] : result.columns;
      const rows = shape === "categories" ? result.categories.map((c) => [c.name, c.value]) : result.rows;
      this.body.innerHTML = '<div class="um-widget-table"><table class="table table-sm table-vcenter mb-0"><thead><tr>' +
        columns.map((c) => "<th>" + esc(c) + "</th>").join("") + "</tr></thead><tbody>" +
        (rows.length ? rows.map((r) => "<tr>" + r.map((c) => "<td>" + esc(c) + "</td>").join("") + "</tr>").join("")
                     : '<tr><td colspan="' + columns.length + '" class="text-secondary">Nothing yet.</td></tr>') +
        "</tbody></table></div>";
      return;
    }
    if (!window.echarts) return;
    const chart = this.echart();
    let option;
    if (def.type === "gauge") {
      const s = scalar(result, o);
      const max = o.max || (s.suffix === "%" ? 100 : Math.max(10, Math.ceil((s.value || 0) * 1.25)));
      const stops = (o.thresholds || []).map((t, i, all) => [
        Math.min(1, (all[i + 1] ? all[i + 1].value : max) / max), t.color]).filter((s2) => s2[0] > 0);
      option = {series: [{type: "gauge", min: 0, max: max, radius: "95%", center: ["50%", "58%"],
        progress: {show: !stops.length, width: 12}, axisLine: {lineStyle: {width: 12, color: stops.length ? stops : [[1, "#3a4466"]]}},
        axisTick: {show: false}, splitLine: {show: false}, axisLabel: {show: false}, pointer: {show: !!stops.length, width: 4},
        anchor: {show: false}, title: {show: !!s.note, offsetCenter: [0, "70%"], color: text, fontSize: font},
        detail: {valueAnimation: false, offsetCenter: [0, "25%"], fontWeight: 700, fontSize: font * 2, color: thresholdColor(s.value, o, text),
                 formatter: () => number(s.value, o.decimals === undefined ? 0 : o.decimals) + s.suffix},
        data: [{value: s.value, name: s.note}]}]};
    } else if (def.type === "pie") {
      // A legend beside a small pie would cover it: small pies name their slices in the tooltip only.
      const wide = this.body.clientWidth > 320;
      option = {tooltip: {trigger: "item"}, legend: {show: wide, type: "scroll", orient: "vertical", right: 0, top: "middle",
                                                     textStyle: {color: text, fontSize: font}},
        series: [{type: "pie", radius: ["40%", "72%"], center: [wide ? "38%" : "50%", "52%"], label: {show: false},
                  data: result.categories.map((c) => ({name: c.name, value: c.value}))}]};
    } else if (def.type === "map") {
      option = placesOption(result, o, text, font);
    } else if (def.type === "topology") {
      option = graphOption(result, text, font, this.board.mode,
                           {width: this.body.clientWidth, height: this.body.clientHeight});
    } else if (def.type === "bar" && shape === "categories") {
      option = {tooltip: {trigger: "axis"}, grid: {left: 8, right: 16, top: 12, bottom: 8, containLabel: true},
        xAxis: {type: "value", minInterval: 1, axisLabel: {fontSize: font}},
        yAxis: {type: "category", inverse: true, data: result.categories.map((c) => c.name), axisLabel: {fontSize: font}},
        series: [{type: "bar", data: result.categories.map((c) => c.value), itemStyle: {color: o.color || PALETTE[0]},
                  label: {show: true, position: "right", color: text, fontSize: font}}]};
    } else {
      option = {tooltip: {trigger: "axis"}, legend: {top: 0, textStyle: {color: text, fontSize: font}},
        grid: {left: 8, right: 16, top: 28, bottom: 8, containLabel: true},
        xAxis: {type: "category", data: result.x, boundaryGap: def.type === "bar", axisLabel: {fontSize: font}},
        yAxis: {type: "value", minInterval: 1, axisLabel: {fontSize: font}},
        series: result.series.map((s) => ({name: s.name, type: def.type === "bar" ? "bar" : "line", stack: def.type === "bar" ? "all" : undefined,
          smooth: true, showSymbol: false, areaStyle: def.type === "line" ? {opacity: 0.12} : undefined, data: s.data}))};
    }
    chart.setOption(Object.assign(base, option), true);
    chart.resize();
  };

  // Regions on a longitude/latitude plane (no map tiles: nothing is fetched from the network), framed
  // on where the places are with a faint graticule (every 1, 5 or 10 degrees). Places the server could not
  // position are lined up along the bottom, so none is left out.
  function placesOption(result, o, text, font) {
    const places = result.places || [];
    const max = Math.max(1, ...places.map((p) => p.value));
    const placed = places.filter((p) => p.lon !== null && p.lat !== null);
    const lons = placed.map((p) => p.lon), lats = placed.map((p) => p.lat);
    const span = (lo, hi, least) => { const mid = (lo + hi) / 2, half = Math.max(least, (hi - lo) * 0.6) / 2; return [mid - half, mid + half]; };
    // At least 8 by 5 degrees: neighbouring regions (Hangzhou, Shanghai) stay apart, one region is centred.
    const [x0, x1] = placed.length ? span(Math.min(...lons), Math.max(...lons), 8) : [-180, 180];
    const [y0, y1] = placed.length ? span(Math.min(...lats), Math.max(...lats), 5) : [-60, 80];
    const unplaced = places.length - placed.length;
    let spare = 0;
    const points = places.map((p) => {
      const known = p.lon !== null && p.lat !== null;
      const x = known ? p.lon : x0 + ((x1 - x0) * (spare + 0.5)) / Math.max(1, unplaced);
      if (!known) spare += 1;
      return {name: p.name, value: [x, known ? p.lat : y0 + (y1 - y0) * 0.06, p.value]};
    });
    const line = {show: true, lineStyle: {color: "rgba(128,140,170,0.22)"}};
    const axis = (min, max) => {
      const step = max - min > 60 ? 10 : max - min > 15 ? 5 : 1;
      return {type: "value", min: Math.floor(min / step) * step, max: Math.ceil(max / step) * step, interval: step,
              axisLabel: {show: false}, axisTick: {show: false}, axisLine: {show: false}, splitLine: line};
    };
    return {tooltip: {trigger: "item"},
      grid: {left: 4, right: 4, top: 4, bottom: 4},
      xAxis: axis(x0, x1), yAxis: axis(y0, y1),
      series: [{type: "scatter", data: points, encode: {x: 0, y: 1, tooltip: 2},
        symbolSize: (v) => Math.max(10, Math.sqrt(v[2] / max) * font * 3.5),
        itemStyle: {color: o.color || PALETTE[0], opacity: 0.85, borderColor: text, borderWidth: 1},
        label: {show: true, position: "bottom", color: text, fontSize: font, formatter: "{b}: {@[2]}"},
        labelLayout: {hideOverlap: true}}]};
  }

  // The inventory's relations as a graph: one colour per resource type, laid out by force to fill
  // the widget (the spring lengths follow its size).
  function graphOption(result, text, font, mode, size) {
    const groups = result.groups || [];
    const nodes = (result.nodes || []).map((n) => ({id: n.id, name: n.name, category: Math.max(0, groups.indexOf(n.group)),
      symbolSize: n.group === "vpc.vpc" ? font * 2.6 : n.group === "vpc.vswitch" ? font * 2 : font * 1.3}));
    const links = (result.links || []).map((l) => ({source: l.source, target: l.target}));
    const room = Math.max(120, Math.min(size.width, size.height));
    const spring = room / Math.max(3, Math.sqrt(nodes.length + 1));
    return {tooltip: {trigger: "item"},
      legend: {top: 0, type: "scroll", data: groups, textStyle: {color: text, fontSize: font}},
      series: [{type: "graph", layout: "force", roam: mode !== "screen", draggable: mode !== "screen", top: font * 3,
        categories: groups.map((g) => ({name: g})), data: nodes, links: links,
        force: {repulsion: spring * 6, edgeLength: [spring * 0.6, spring * 1.4], gravity: 0.06},
        label: {show: nodes.length <= 40, position: "right", color: text, fontSize: Math.max(9, font - 1), formatter: "{b}"},
        lineStyle: {color: "source", opacity: 0.6, width: 1.5}, emphasis: {focus: "adjacency"}}]};
  }

  // A stat's number takes what its cell allows, on a TV as on a laptop.
  Widget.prototype.fitStat = function () {
    const value = this.body.querySelector(".um-stat-value");
    if (!value) return;
    const h = this.body.clientHeight, w = this.body.clientWidth;
    const chars = Math.max(3, value.textContent.length);
    value.style.fontSize = Math.max(14, Math.min(h * 0.55, (w * 1.6) / chars)) + "px";
  };

  Widget.prototype.resize = function () {
    if (this.chart) this.chart.resize();
    this.fitStat();
  };

  function Board(container, board, opts) {
    this.container = container;
    this.board = board;
    this.mode = opts.mode || "view";
    this.dark = !!opts.dark;
    this.doc = board.document;
    this.staleAfter = this.doc.stale_after || 300;
    this.params = opts.params || {};
    this.widgets = new Map();
    this.pending = null;
    this.timer = null;
    this.onStatus = opts.onStatus || function () {};
    this.onSaved = opts.onSaved || function () {};
    this.layout();
    this.loadAll();
    setInterval(() => { const now = Date.now(); this.widgets.forEach((w) => w.tick(now)); this.onStatus(this.status()); }, 1000);
    if (this.doc.refresh) setInterval(() => this.loadAll(), this.doc.refresh * 1000);
    window.addEventListener("resize", () => { this.fit(); this.widgets.forEach((w) => w.resize()); });
    if (opts.live !== false) this.subscribe();
  }

  Board.prototype.rows = function () {
    return Math.max(1, ...this.doc.widgets.map((w) => w.gridPos.y + w.gridPos.h));
  };

  Board.prototype.layout = function () {
    this.container.textContent = "";
    this.container.classList.add("um-board");
    for (const def of this.doc.widgets) {
      const widget = new Widget(this, def);
      const p = def.gridPos;
      widget.el.style.gridColumn = (p.x + 1) + " / span " + p.w;
      widget.el.style.gridRow = (p.y + 1) + " / span " + p.h;
      this.container.appendChild(widget.el);
      this.widgets.set(def.id, widget);
    }
    if (!this.doc.widgets.length) {
      this.container.innerHTML = '<div class="um-board-empty text-secondary">This dashboard has no widgets yet.</div>';
    }
    this.fit();
  };

  // A wall screen's rows share the screen's height exactly: no scrollbars at 1080p or at 4K.
  Board.prototype.fit = function () {
    const rows = this.rows();
    if (this.mode === "screen") {
      // Rows share whatever height the screen leaves (a banner appearing takes some): never more.
      this.container.style.gridTemplateRows = "repeat(" + rows + ", minmax(0, 1fr))";
      if (!this.observer && window.ResizeObserver) {
        let queued = false;
        this.observer = new ResizeObserver(() => {
          if (queued) return;
          queued = true;
          requestAnimationFrame(() => { queued = false; this.widgets.forEach((w) => w.resize()); });
        });
        this.observer.observe(this.container);
      }
    } else {
      this.container.style.gridTemplateRows = "repeat(" + rows + ", 2.6rem)";
    }
  };

  Board.prototype.url = function (ids) {
    const q = new URLSearchParams(this.params);
    if (ids) q.set("widgets", ids.join(","));
    const s = q.toString();
    return this.board.data_url + (s ? "?" + s : "");
  };

  // A read answers for the moment it was sent. Each read and each pushed value takes the next tick,
  // and a widget keeps the tick of what it shows: an answer to a read sent before a newer value was
  // drawn (a push during the read after a reconnect, or an earlier read answered last) is dropped.
  Board.prototype.nextTick = function () { this.tick = (this.tick || 0) + 1; return this.tick; };
  Board.prototype.draw = function (id, d, tick) {
    const w = this.widgets.get(id);
    if (!w) return;
    this.shown = this.shown || new Map();
    if ((this.shown.get(id) || 0) > tick) return;
    this.shown.set(id, tick);
    w.show(d);
  };

  Board.prototype.load = async function (ids) {
    const tick = this.nextTick();
    try {
      const res = await fetch(this.url(ids), {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (res.status === 401 || res.status === 403) { this.fetchFailed = true; return; }
      if (!res.ok) throw new Error("HTTP " + res.status);
      const data = await res.json();
      this.fetchFailed = false;
      this.lastData = Date.now();
      if (data.version && data.version !== this.board.version && this.mode !== "edit") this.onSaved(data.version);
      Object.entries(data.widgets).forEach(([id, d]) => this.draw(id, d, tick));
    } catch (e) {
      this.fetchFailed = true;
    }
    this.onStatus(this.status());
  };

  Board.prototype.loadAll = function () { return this.load(null); };

  // Changes arrive in bursts: gather the widgets named within a short window, then read them once.
  Board.prototype.changed = function (ids) {
    this.pending = this.pending || new Set();
    ids.forEach((id) => this.pending.add(id));
    if (this.timer) return;
    this.timer = setTimeout(() => {
      const wanted = Array.from(this.pending);
      this.pending = null; this.timer = null;
      this.load(wanted);
    }, COALESCE_MS);
  };

  // Values pushed by the server (a display token's wall screen): drawn as they come, no read.
  Board.prototype.pushed = function (data) {
    if (data.version && data.version !== this.board.version && this.mode !== "edit") { this.onSaved(data.version); return; }
    this.fetchFailed = false;
    this.lastData = Date.now();
    const tick = this.nextTick();
    Object.entries(data.widgets || {}).forEach(([id, d]) => this.draw(id, d, tick));
    this.onStatus(this.status());
  };

  Board.prototype.subscribe = function () {
    const rt = U.realtime();
    this.rt = rt;
    rt.on("open", () => { this.connected = true; this.onStatus(this.status()); this.loadAll(); });
    rt.on("close", () => { this.connected = false; this.onStatus(this.status()); });
    // A wall screen opened with a display token follows the screen topic, where the server pushes
    // the changed widgets' values; people follow the dashboard's topic and read what it names.
    const topic = this.board.values_topic || this.board.topic;
    rt.subscribe(topic, (data) => {
      if (data.event === "values") this.pushed(data);
      else if (data.event === "data") this.changed(data.widgets || []);
      else if (data.event === "saved" || data.event === "deleted") this.onSaved(data.version);
    }, {onReset: () => this.loadAll()});
  };

  Board.prototype.status = function () {
    const now = Date.now();
    let stale = 0;
    this.widgets.forEach((w) => { if (w.updatedAt && now - w.updatedAt > this.staleAfter * 1000) stale += 1; });
    return {connected: this.connected !== false && !!this.connected, fetchFailed: !!this.fetchFailed, stale: stale,
            widgets: this.widgets.size};
  };

  U.dashboards = {board: (container, board, opts) => new Board(container, board, opts || {}), thresholdColor: thresholdColor,
                  Widget: Widget};
})();
