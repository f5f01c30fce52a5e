/* Request form (provisioning/request_form.html): vSwitches and security groups follow the zone; the
 * request is posted to the API and the page moves to it. */
(function () {
  const form = document.getElementById("req-form");
  const offers = JSON.parse(JSON.parse(document.getElementById("offers").textContent));
  const zone = document.getElementById("f-zone"), vsw = document.getElementById("f-vswitch"), sg = document.getElementById("f-sg");
  function fill() {
    vsw.replaceChildren(); sg.replaceChildren();
    offers.vswitches.filter(v => v.zone === zone.value).forEach(v => vsw.add(new Option(v.name + " (" + v.cidr_block + ")", v.id)));
    const vpc = (offers.vswitches.find(v => v.id === vsw.value) || {}).vpc_id;
    offers.security_groups.filter(g => !vpc || g.vpc_id === vpc).forEach(g => sg.add(new Option(g.name, g.id)));
  }
  zone.addEventListener("change", fill); vsw.addEventListener("change", fill); fill();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("req-error"); err.classList.add("d-none");
    const tags = {};
    document.getElementById("f-tags").value.split(",").map(s => s.trim()).filter(Boolean).forEach(p => { const [k, v] = p.split("="); tags[k.trim()] = (v || "").trim(); });
    const spec = {instance_type: document.getElementById("f-type").value, image_id: document.getElementById("f-image").value,
      zone: zone.value, vswitch_id: vsw.value, security_group_id: sg.value, name: document.getElementById("f-name").value,
      system_disk_gib: parseInt(document.getElementById("f-disk-size").value, 10), tags: tags};
    if (document.getElementById("f-disk").value) spec.system_disk_category = document.getElementById("f-disk").value;
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
})();
