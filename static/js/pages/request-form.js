/* Request form (provisioning/request_form.html), one resource type per page: dependencies follow the
 * choices (vSwitches and security groups the zone, versions the engine, a disk's instances its zone),
 * the price estimate follows every change, and the request is posted to the API and the page moves to it. */
(function () {
  const form = document.getElementById("req-form");
  const offers = JSON.parse(JSON.parse(document.getElementById("offers").textContent));
  const rtype = form.dataset.type;
  const zone = document.getElementById("f-zone"), vsw = document.getElementById("f-vswitch"), sg = document.getElementById("f-sg");
  if (rtype !== "ecs.instance") { other(); return; }
  function fill() {
    vsw.replaceChildren(); sg.replaceChildren();
    offers.vswitches.filter(v => v.zone === zone.value).forEach(v => vsw.add(new Option(v.name + " (" + v.cidr_block + ")", v.id)));
    const vpc = (offers.vswitches.find(v => v.id === vsw.value) || {}).vpc_id;
    offers.security_groups.filter(g => !vpc || g.vpc_id === vpc).forEach(g => sg.add(new Option(g.name, g.id)));
  }
  zone.addEventListener("change", fill); vsw.addEventListener("change", fill); fill();

  // Quotas: what the request needs beside what the project may still create; a request that does
  // not fit is refused here, with the numbers, before it is sent (the server checks again).
  const quota = document.getElementById("req-quota"), submit = document.getElementById("req-submit");
  const gib = (mib) => Math.ceil(mib / 1024);
  function needs() {
    const opt = document.getElementById("f-type").selectedOptions[0];
    const n = parseInt(document.getElementById("f-count").value, 10) || 0;
    const disk = parseInt(document.getElementById("f-disk-size").value, 10) || 0;
    return {"ecs.instance": n, "ecs.vcpu": n * (parseInt(opt && opt.dataset.vcpu, 10) || 0),
      "ecs.memory_gib": n * gib(parseInt(opt && opt.dataset.memoryMib, 10) || 0), "ecs.disk_gib": n * disk};
  }
  let headroom = [], asked = 0, shown = "";
  function judge() {
    const need = needs();
    const short = headroom.filter(h => need[h.dimension] !== undefined && need[h.dimension] > h.free);
    submit.disabled = short.length > 0;
    quota.classList.toggle("d-none", short.length === 0);
    // Rebuilt only when what it says changes: a blur (the field's change event) as the link is
    // pressed must not replace the link under the pointer.
    const key = JSON.stringify([short, need]);
    if (key === shown) return;
    shown = key;
    quota.replaceChildren();
    if (!short.length) return;
    const title = document.createElement("strong"); title.textContent = "This request does not fit the quota.";
    const list = document.createElement("ul"); list.className = "mb-1 mt-1";
    short.forEach(h => {
      const li = document.createElement("li");
      li.textContent = h.dimension_name + ": needs " + need[h.dimension] + ", " + h.free + " free of " + h.limit +
        " (" + h.used + " used, limit of " + h.bound_by + "), " + (need[h.dimension] - h.free) + " short";
      list.append(li);
    });
    const first = short[0];
    const more = document.createElement("a"); more.className = "btn btn-sm btn-outline-primary"; more.dataset.testid = "ask-more";
    more.textContent = "Ask for more";
    more.href = "/portal/quotas/?" + new URLSearchParams({organization: first.bound_by_organization,
      project: first.bound_by_project || "", dimension: first.dimension,
      requested_limit: String(first.used + need[first.dimension])}).toString();
    quota.append(title, list, more);
  }
  async function refresh() {
    const project = document.getElementById("f-project").value, mine = ++asked;
    if (!project) { headroom = []; judge(); return; }
    try {
      const rows = await Unimanager.api("GET", "/api/v1/quotas/headroom/?" + new URLSearchParams({project: project,
        platform: form.dataset.platform, region: form.dataset.region}).toString());
      if (mine === asked) { headroom = Array.isArray(rows.results) ? rows.results : []; judge(); }
    } catch (e) { headroom = []; judge(); }  // no quotas installed or none visible: the server decides
  }
  ["f-type", "f-count", "f-disk-size"].forEach(id => { document.getElementById(id).addEventListener("input", judge); document.getElementById(id).addEventListener("change", judge); });
  document.getElementById("f-project").addEventListener("change", refresh);
  refresh();
  function ecsSpec() {
    const tags = {};
    document.getElementById("f-tags").value.split(",").map(s => s.trim()).filter(Boolean).forEach(p => { const [k, v] = p.split("="); tags[k.trim()] = (v || "").trim(); });
    const spec = {instance_type: document.getElementById("f-type").value, image_id: document.getElementById("f-image").value,
      zone: zone.value, vswitch_id: vsw.value, security_group_id: sg.value, name: document.getElementById("f-name").value,
      system_disk_gib: parseInt(document.getElementById("f-disk-size").value, 10), tags: tags};
    if (document.getElementById("f-disk").value) spec.system_disk_category = document.getElementById("f-disk").value;
    return spec;
  }
  estimator(ecsSpec);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("req-error"); err.classList.add("d-none");
    const spec = ecsSpec();
    try {
      const r = await Unimanager.api("POST", "/api/v1/provisioning/requests/", {project: document.getElementById("f-project").value,
        platform: form.dataset.platform, region: form.dataset.region, spec: spec, count: parseInt(document.getElementById("f-count").value, 10),
        reason: document.getElementById("f-reason").value});
      location.href = form.dataset.requests + r.id + "/";
    } catch (e) {
      const detail = e.body && e.body.detail ? Object.entries(e.body.detail).map(([k, v]) => k + ": " + [].concat(v).join(", ")).join("; ") : "";
      err.textContent = e.message + (detail ? " " + detail : ""); err.classList.remove("d-none");
    }
  });

  // The price of what the form says now, from the price book (none installed: says so).
  function count() { const c = document.getElementById("f-count"); return c ? (parseInt(c.value, 10) || 1) : 1; }
  function estimator(specOf) {
    const box = document.getElementById("req-estimate"), text = box.querySelector("[data-role=estimate-text]");
    let timer = null, asked = 0;
    async function ask() {
      const mine = ++asked;
      try {
        const r = await Unimanager.api("POST", "/api/v1/provisioning/estimate/", {platform: form.dataset.platform,
          region: form.dataset.region, resource_type: rtype, spec: specOf(), count: count()});
        if (mine !== asked) return;
        text.textContent = r.priced ? "Estimated " + r.hourly + " " + r.currency + " per hour, " + r.monthly + " " + r.currency + " per month"
          : "No price book prices this yet.";
        box.classList.toggle("text-secondary", !r.priced);
      } catch (e) {
        if (mine !== asked) return;
        text.textContent = "No estimate until the form is complete" + (e.body && e.body.detail ? " (" + Object.keys(e.body.detail).join(", ") + ")" : "") + ".";
        box.classList.add("text-secondary");
      }
    }
    function later() { clearTimeout(timer); timer = setTimeout(ask, 250); }
    form.addEventListener("input", later); form.addEventListener("change", later);
    ask();
  }
  function showError(e) {
    const err = document.getElementById("req-error");
    const detail = e.body && e.body.detail ? Object.entries(e.body.detail).map(([k, v]) => k + ": " + [].concat(v).map(x => typeof x === "object" ? JSON.stringify(x) : x).join(", ")).join("; ") : "";
    err.textContent = e.message + (detail ? " " + detail : ""); err.classList.remove("d-none");
  }

  // Every type but an ECS instance: fields carry data-spec (their name in the spec) and data-kind.
  function other() {
    const engine = form.querySelector("[data-role=engine]"), version = form.querySelector("[data-role=version]");
    const instance = form.querySelector("[data-role=instance]"), category = form.querySelector("[data-role=category]");
    const address = form.querySelector("[data-role=address-type]");
    const table = (offers.engines || {})[rtype] || [];
    if (engine) { table.forEach(e => engine.add(new Option(e.engine, e.engine))); }
    function versions() {
      if (!version) return;
      const name = version.dataset.engine || (engine && engine.value);
      const found = table.find(e => e.engine === name) || {versions: []};
      const keep = version.value; version.replaceChildren();
      found.versions.forEach(v => version.add(new Option(v, v)));
      if (found.versions.includes(keep)) version.value = keep; else if (found.versions.length) version.value = found.versions[found.versions.length - 1];
    }
    function follow() {
      const z = zone ? zone.value : "";
      if (vsw) {
        const keep = vsw.value; vsw.replaceChildren();
        if (vsw.dataset.optional) vsw.add(new Option("—", ""));
        const vpc = form.querySelector("[data-role=vpc]");
        offers.vswitches.filter(v => (vsw.dataset.anyZone || v.zone === z) && (!vsw.dataset.byVpc || !vpc || v.vpc_id === vpc.value)).forEach(v => vsw.add(new Option(v.name + " (" + v.cidr_block + ", " + v.zone + ")", v.id)));
        if ([...vsw.options].some(o => o.value === keep)) vsw.value = keep;
        else if (vsw.dataset.optional && vsw.options.length > 1) vsw.selectedIndex = 1;
        if (address) vsw.disabled = address.value === "internet";
      }
      if (instance) {
        const keep = instance.value; instance.replaceChildren(new Option("none: attach later", ""));
        (offers.instances || []).filter(i => i.zone === z).forEach(i => instance.add(new Option(i.name + " (" + i.zone + ")", i.id)));
        if ([...instance.options].some(o => o.value === keep)) instance.value = keep;
      }
      if (category) {
        [...category.options].forEach(o => { o.disabled = !!o.dataset.zones && !o.dataset.zones.split(",").includes(z); });
        if (category.selectedOptions[0] && category.selectedOptions[0].disabled) { const ok = [...category.options].find(o => !o.disabled); if (ok) category.value = ok.value; }
      }
    }
    if (engine) engine.addEventListener("change", versions);
    [zone, address, form.querySelector("[data-role=vpc]")].forEach(x => x && x.addEventListener("change", follow));
    versions(); follow();
    function rules(text) {
      return text.split(";").map(s => s.trim()).filter(Boolean).map(r => {
        const [protocol, ports, source] = r.split(/\s+/);
        const rule = {protocol: (protocol || "").toLowerCase(), port_range: ports || "-1/-1"};
        if (source) rule.source_cidr = source;
        return rule;
      });
    }
    function specOf() {
      const spec = {};
      form.querySelectorAll("[data-spec]").forEach(i => {
        if (i.disabled && i.dataset.optional) return;
        const v = i.value;
        if (i.dataset.optional && v === "") return;
        spec[i.dataset.spec] = i.dataset.kind === "int" ? (v === "" ? null : Number(v)) : i.dataset.kind === "rules" ? rules(v) : v;
      });
      return spec;
    }
    estimator(specOf);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      document.getElementById("req-error").classList.add("d-none");
      try {
        const r = await Unimanager.api("POST", "/api/v1/provisioning/requests/", {project: document.getElementById("f-project").value,
          platform: form.dataset.platform, region: form.dataset.region, resource_type: rtype, spec: specOf(), count: count(),
          reason: document.getElementById("f-reason").value});
        location.href = form.dataset.requests + r.id + "/";
      } catch (e) { showError(e); }
    });
  }
})();
