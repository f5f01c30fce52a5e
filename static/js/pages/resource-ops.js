/* Resource page operations (resources/detail.html, provisioning/resource.html): the lifecycle actions
 * and day-2 operations the resource's state allows, each a button (with its small form), followed live;
 * and what the cloud lists about the resource (rules, listeners, backends, accounts, databases,
 * lifecycle rules). Built with createElement/textContent only. */
(function () {
  const root = document.getElementById("resource-ops");
  if (!root) return;
  const id = root.dataset.resource;
  const api = "/api/v1/provisioning/instances/" + id + "/";
  const err = root.querySelector("[data-role=ops-error]");
  const body = root.querySelector("[data-role=ops-body]");
  const progress = root.querySelector("[data-role=ops-progress]");
  const badge = document.querySelector("[data-testid=resource-status]");

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "dataset") Object.assign(node.dataset, v); else if (k === "className") node.className = v; else node.setAttribute(k, v);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // Arguments of each day-2 operation: [name, label, kind, options]
  const RULE = [["protocol", "Protocol", "select", ["tcp", "udp", "icmp", "all"]], ["port_range", "Ports", "text", "80/80"],
    ["source_cidr", "Source", "text", "0.0.0.0/0"]];
  const FIELDS = {
    disk_resize: [["size_gib", "New size (GiB)", "number", ""]],
    snapshot_create: [["name", "Snapshot name", "text", "manual"]],
    snapshot_delete: [["snapshot", "Snapshot", "snapshot"]], rollback: [["snapshot", "Snapshot", "snapshot"]],
    backup_create: [],
    eip_bind: [["eip", "EIP (inventory id)", "text", ""]], eip_unbind: [["eip", "EIP (inventory id)", "text", ""]],
    snat_add: [["ip_address", "EIP address", "text", ""], ["vswitch_id", "Source vSwitch", "text", ""]],
    snat_remove: [["entry_id", "SNAT entry", "text", ""]], dnat_remove: [["entry_id", "DNAT entry", "text", ""]],
    dnat_add: [["ip_address", "EIP address", "text", ""], ["protocol", "Protocol", "select", ["tcp", "udp"]],
      ["external_port", "External port", "number", "80"], ["internal_ip", "Internal IP", "text", ""],
      ["internal_port", "Internal port", "number", "80"]],
    rule_add: RULE, rule_remove: RULE,
    bandwidth: [["bandwidth_mbps", "Bandwidth (Mbit/s)", "number", ""]],
    listener_add: [["protocol", "Protocol", "select", ["tcp", "udp"]], ["port", "Port", "number", "80"],
      ["backend_port", "Backend port", "number", "80"]],
    listener_remove: [["protocol", "Protocol", "select", ["tcp", "udp"]], ["port", "Port", "number", "80"]],
    backend_add: [["instance", "Instance", "instance"], ["weight", "Weight", "number", "100"]],
    backend_remove: [["instance", "Instance", "instance"]],
    account_create: [["name", "Account", "text", ""], ["password", "Password", "password", ""],
      ["account_type", "Type", "select", ["Normal", "Super"]]],
    database_create: [["name", "Database", "text", ""], ["charset", "Character set", "select", ["utf8mb4", "utf8", "gbk", "latin1"]]],
    acl: [["acl", "ACL", "select", ["private", "public-read", "public-read-write"]]],
    lifecycle: [["prefix", "Prefix", "text", ""], ["days", "Expire after (days)", "number", "30"]],
  };
  let panel = null;

  function instanceSelect(name) {
    const select = el("select", {className: "form-select form-select-sm", name: name, dataset: {testid: "ops-instance"}});
    (panel.instances || []).forEach((i) => select.add(new Option(i.name + " (" + i.external_id + ", " + i.zone + ")", i.id)));
    if (!select.options.length) { select.add(new Option("no instance here you may use", "")); select.disabled = true; }
    return select;
  }
  function field([name, label, kind, opt]) {
    const wrap = el("div", {className: "col-auto"});
    wrap.append(el("label", {className: "form-label small mb-1"}, label));
    let input;
    if (kind === "select") { input = el("select", {className: "form-select form-select-sm", name: name}); opt.forEach((o) => input.add(new Option(o, o))); }
    else if (kind === "instance") input = instanceSelect(name);
    else if (kind === "snapshot") {
      input = el("select", {className: "form-select form-select-sm", name: name});
      ((panel.details || {}).snapshots || []).forEach((x) => input.add(new Option(x.name + " (" + x.snapshot + ", " + x.status + ")", x.snapshot)));
      if (!input.options.length) { input.add(new Option("no snapshot yet", "")); input.disabled = true; }
    }
    else input = el("input", {className: "form-control form-control-sm", name: name, type: kind === "number" ? "number" : kind, value: opt || ""});
    input.dataset.kind = kind;
    wrap.append(input);
    return wrap;
  }
  function values(form) {
    const out = {};
    form.querySelectorAll("[name]").forEach((i) => { out[i.name] = i.dataset.kind === "number" ? (i.value === "" ? null : Number(i.value)) : i.value; });
    return out;
  }
  async function run(verb, params, label) {
    err.classList.add("d-none");
    root.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const op = await Unimanager.api("POST", api + verb + "/", {comment: "from the resource page", params: params});
      progress.classList.remove("d-none");
      progress.dataset.op = op.id; progress.dataset.status = op.status;
      progress.querySelector("[data-role=op-label]").textContent = label;
      UmOps.follow(progress);
    } catch (e) {
      const detail = e.body && e.body.detail ? " " + Object.entries(e.body.detail).map(([k, v]) => k + ": " + [].concat(v).join(", ")).join("; ") : "";
      err.textContent = e.message + detail; err.classList.remove("d-none");
      root.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }
  progress.addEventListener("op", async (ev) => {
    const op = ev.detail;
    if (op.status !== "succeeded" && op.status !== "failed") return;
    try {
      const r = await Unimanager.api("GET", "/api/v1/resources/resources/" + id + "/");
      if (badge) badge.textContent = r.deleted ? "deleted" : r.status;
      const fact = document.querySelector("[data-role=status-fact]");
      if (fact) fact.textContent = r.deleted ? "deleted" : r.status;
    } catch (e) { /* released and gone from the inventory's reads */ }
    load();
  });

  function actionRow() {
    const row = el("div", {className: "d-flex flex-wrap gap-2 align-items-end mb-3", dataset: {testid: "ops-actions"}});
    panel.actions.forEach((a) => {
      const group = el("div", {className: "d-flex gap-1 align-items-end"});
      let pick = null;
      if (a.action === "resize") {
        pick = el("select", {className: "form-select form-select-sm w-auto", "aria-label": "New size"});
        panel.sizes.forEach((s) => pick.add(new Option(s, s)));
        group.append(pick);
      } else if (a.action === "attach") {
        pick = instanceSelect("instance"); pick.classList.add("w-auto"); group.append(pick);
      }
      const cls = a.action === "release" ? "btn btn-sm btn-outline-danger" : "btn btn-sm btn-outline-primary";
      const button = el("button", {type: "button", className: cls, dataset: {action: a.action, testid: "op-" + a.action}}, a.label);
      button.addEventListener("click", () => {
        if (a.action === "release" && !confirm("Release this resource? It is deleted on the cloud.")) return;
        const params = a.action === "resize" ? {instance_type: pick.value} : a.action === "attach" ? {instance: pick.value} : {};
        run(a.action, params, a.label);
      });
      group.append(button);
      row.append(group);
    });
    if (!panel.actions.length) row.append(el("span", {className: "text-secondary small"}, "No lifecycle action in this state."));
    return row;
  }
  function operationForms() {
    const wrap = el("div", {className: "mb-2"});
    panel.operations.forEach((o) => {
      const form = el("form", {className: "row g-2 align-items-end mb-2", dataset: {operation: o.operation, testid: "op-form-" + o.operation}});
      (FIELDS[o.operation] || []).forEach((f) => form.append(field(f)));
      const go = el("div", {className: "col-auto"});
      go.append(el("button", {type: "submit", className: "btn btn-sm btn-primary", dataset: {testid: "op-" + o.operation}}, o.label));
      form.append(go);
      form.addEventListener("submit", (ev) => { ev.preventDefault(); run("modify", {operation: o.operation, args: values(form)}, o.label); });
      wrap.append(form);
    });
    return wrap;
  }
  const COLUMNS = {rules: ["protocol", "port_range", "source_cidr", "policy"], listeners: ["protocol", "port"],
    backends: ["instance_id", "weight"], accounts: ["name", "type", "status"], databases: ["name", "charset", "status"],
    lifecycle: ["prefix", "days", "enabled"], snapshots: ["snapshot", "name", "status", "progress"],
    backups: ["id", "type", "status", "size_bytes"], eips: ["ip_address"],
    snat_entries: ["entry_id", "snat_ip", "source", "status"], dnat_entries: ["entry_id", "protocol", "external", "internal", "status"]};
  function detailTables(details) {
    const wrap = el("div");
    Object.entries(details || {}).forEach(([kind, rows]) => {
      if (!Array.isArray(rows)) return;
      wrap.append(el("div", {className: "subheader mt-2 mb-1"}, kind.replace("_", " ")));
      const table = el("table", {className: "table table-sm mb-2", dataset: {testid: "details-" + kind}});
      const head = el("tr"); (COLUMNS[kind] || Object.keys(rows[0] || {})).forEach((c) => head.append(el("th", {}, c.replace("_", " "))));
      const thead = el("thead"); thead.append(head); table.append(thead);
      const tbody = el("tbody");
      rows.forEach((r) => { const tr = el("tr"); (COLUMNS[kind] || Object.keys(r)).forEach((c) => tr.append(el("td", {}, String(r[c] === null || r[c] === undefined ? "" : r[c])))); tbody.append(tr); });
      if (!rows.length) { const tr = el("tr"); tr.append(el("td", {className: "text-secondary", colspan: "4"}, "none")); tbody.append(tr); }
      table.append(tbody);
      wrap.append(table);
    });
    return wrap;
  }
  async function load() {
    try {
      panel = await Unimanager.api("GET", api + "details/");
    } catch (e) {
      body.replaceChildren(el("div", {className: "text-secondary small"}, e.message));
      return;
    }
    body.replaceChildren(actionRow(), operationForms(), detailTables(panel.details));
    scriptButton();
  }
  // "Run script" on an instance you may run scripts on: opens the scripts page with it picked.
  async function scriptButton() {
    let page;
    try { page = await Unimanager.api("GET", "/api/v1/provisioning/script-instances/?id=" + encodeURIComponent(id)); }
    catch (e) { return; }
    const instance = (page.results || [])[0];
    const row = body.querySelector("[data-testid=ops-actions]");
    if (!instance || !row) return;
    const surface = location.pathname.startsWith("/console/") ? "/console" : "/portal";
    const link = el("a", {className: "btn btn-sm btn-outline-primary", dataset: {testid: "op-run-script"},
      href: surface + "/provisioning/scripts/?instance=" + encodeURIComponent(id)}, "Run script");
    if (instance.status !== "running") {
      link.classList.add("disabled"); link.setAttribute("aria-disabled", "true");
      link.title = "A script runs only on a running instance.";
    }
    row.append(link);
  }
  load();
})();
